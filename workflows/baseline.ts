// Experiment 0, the baseline: the target as it is, trained and scored like any candidate (by
// runExperiment, experiment.ts), but it runs alone (nothing can be decided before it is scored), it may train again
// to measure the noise, a `pause --now` runs it again on resume instead of recording it, and a run
// whose baseline does not score fails with how to fix the target.
import { ApplicationFailure, type CancellationScope } from '@temporalio/workflow';
import type { Candidate, Evaluation, ExperimentRecord, TargetConfig, TrainingOutcome } from '../common/types';
import { runsWord } from './keepRule';
import { madeProposal, type Proposal, type Proposing } from './proposal';
import { noiseBy, trainAgain } from './reruns';
import type { RunState } from './runState';
import { ERROR_TYPE } from '../common/names';

export function isBaseline(n: number): boolean {
  return n === 0;
}

/** The baseline's proposal, made already: number 0 (kept when `pause --now` cancelled it, to run again). */
export function baselineProposal(state: RunState, root: CancellationScope): Proposal {
  const prepared = state.prepared!;
  const n = state.nextExperiment === 0 ? state.claim() : 0;
  const baseline: Candidate = {
    n,
    parent: prepared.baseCommit,
    commit: prepared.baseCommit,
    description: 'baseline',
  };
  return madeProposal(baseline, root);
}

/**
 * With noise runs, the baseline trains again with seeds 1, 2 ... (at once, on as many slots as there
 * are): its metric becomes the mean, and their spread the run's first noise estimate. A target that
 * does not say how to set its seed repeats the identical run instead (compat.ts: repeatsUnseeded).
 */
export async function measureNoise(
  run: Proposing,
  baseline: Candidate,
  first: Evaluation,
): Promise<Evaluation> {
  const runs = run.state.options.noiseRuns ?? 1;
  const by = noiseBy(run.state);
  if (runs < 2 || !by || first.status !== 'ok' || first.metric === undefined) return first;
  // A failed noise run only leaves fewer runs to measure with; a candidate's would discard it.
  const { failedRuns: _failed, ...measured } = await trainAgain(
    run,
    baseline,
    first,
    runs - 1,
    `baseline, ${runs - 1} more ${runsWord(by)} to measure the noise`,
  );
  return measured;
}

/** The run cannot go on without a scored baseline: the failure says what to fix. */
export function baselineFailure(
  record: ExperimentRecord,
  outcome: TrainingOutcome | undefined,
  config: TargetConfig,
  evaluation: Evaluation,
): ApplicationFailure {
  // A set-up too slow for its timeout is not the target's fault: the reason says how to give it longer.
  const fix =
    outcome?.setupFailed && outcome.timedOut
      ? 'Give the set-up longer and start a new run'
      : `Fix the target so that \`${config.train.command}\` trains and prints "${config.metric.name}: <value>"`;
  return ApplicationFailure.nonRetryable(
    `The baseline did not produce a valid ${config.metric.name} (${record.status}: ${evaluation.reason ?? 'no reason given'}). ` +
      `${fix}; log: ${outcome?.logPath ?? 'none'}`,
    ERROR_TYPE.baselineFailed,
  );
}
