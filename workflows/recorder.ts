// The last two steps of an experiment: decide (against the best at this moment) and record. The state
// takes the decision at once, so the next decision compares against it; the record steps are written
// one after another, in decision order, because the branch moves by compare-and-swap.
import { ActivityFailure, ApplicationFailure, condition, isCancellation } from '@temporalio/workflow';
import type { Candidate, Evaluation, ExperimentRecord, TrainingOutcome } from '../common/types';
import { recordFailurePauses } from './compat';
import type { Display } from './display';
import { experimentRecord } from './projections';
import type { RunState } from './runState';
import * as steps from './steps';
import { ERROR_TYPE } from '../common/names';

/** The decision, against the best at this moment, as the experiment's record. */
export function decide(
  state: RunState,
  candidate: Candidate,
  evaluation: Evaluation,
  outcome: TrainingOutcome | undefined,
  startedAt: number,
): ExperimentRecord {
  return experimentRecord(candidate, evaluation, state.decide(evaluation), outcome, startedAt, Date.now());
}

export class Recorder {
  /** The records being written, in decision order. */
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly state: RunState,
    private readonly display: Display,
  ) {}

  /** Every record decided so far is written. */
  get written(): Promise<void> {
    return this.writing;
  }

  /**
   * Folds the decision into the state now, and writes it out after the records decided before it
   * (with the rebase made ahead for it, if one was: its refs are settled there).
   */
  record(record: ExperimentRecord, speculation?: { proposed: string }): Promise<void> {
    const { state, display } = this;
    const previousBest = state.parentCommit;
    state.finish(record);
    display.experiment(record.n, 'recording', `${record.status}: ${record.description}`);
    const write = async () => {
      await this.untilWritten(record.n, () => steps.record(state, record, previousBest, speculation));
      state.progress.settled(record.n, state.paused);
      display.recorded();
    };
    this.writing = this.writing.then(write);
    return this.writing;
  }

  /**
   * A record the step could not write (a TargetError: the branch was moved by someone else, the run
   * directory is not writable ...) pauses the run with the step's own message; `resume` tries again,
   * and the records decided after it wait for it, so they are written in order. A run stopped meanwhile
   * tries once more, then fails with the reason rather than end with a record unwritten.
   */
  private async untilWritten(n: number, writeOnce: () => Promise<void>): Promise<void> {
    const { state } = this;
    for (;;) {
      try {
        return await writeOnce();
      } catch (err) {
        if (isCancellation(err) || !(err instanceof ActivityFailure) || !recordFailurePauses()) throw err;
        const reason = `experiment ${n}'s record could not be written: ${err.cause?.message ?? err.message}`;
        if (state.stopRequested)
          throw ApplicationFailure.nonRetryable(`The run stopped, but ${reason}`, ERROR_TYPE.recordFailed);
        state.pause(reason);
        this.display.paused();
        await condition(() => !state.paused || state.stopRequested);
      }
    }
  }
}
