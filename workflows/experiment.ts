// One experiment, top to bottom, as program.md tells it: propose an edit to the best so far (or take
// the proposal made ahead), rebase it if the best moved meanwhile, train it for the fixed budget, score
// it, confirm it with more runs if the noise could explain its gain, decide, record.
// Every step runs in the proposal's cancellation scope, so `pause --now` cancels whichever is running.
import { isCancellation } from '@temporalio/workflow';
import type { Candidate, Evaluation, TrainingOutcome } from '../common/types';
import { baselineFailure, isBaseline, measureNoise } from './baseline';
import type { Display } from './display';
import { freshen, unproposed, type Proposal } from './proposal';
import { decide, type Recorder } from './recorder';
import { confirm } from './reruns';
import type { RunState } from './runState';
import type { Slots } from './slots';
import * as steps from './steps';

/** What an experiment works with: the run's state, what it shows, its slots and its records. */
export interface Run {
  state: RunState;
  display: Display;
  slots: Slots;
  recorder: Recorder;
}

export async function runExperiment(run: Run, p: Proposal): Promise<void> {
  const { state, display, slots } = run;
  const { n, scope } = p;
  const config = state.prepared!.config;
  const startedAt = Date.now();
  let candidate: Candidate | null | undefined;
  let outcome: TrainingOutcome | undefined;
  let evaluation: Evaluation;
  slots.take(p);
  try {
    // 1. Propose (or take the proposal made ahead); 2. rebase it if the best moved since.
    candidate = await scope.run(async () => freshen(run, p, await p.result));
    if (!candidate) return await slots.abandon(p, null);
    if (!candidate.invalid) slots.speculation.started(candidate);
    slots.proposeAhead();
    if (candidate.invalid) evaluation = { status: 'invalid', reason: candidate.invalid };
    else {
      const trainee = candidate;
      // 3. Train (a slot that failed every attempt is a crash).
      display.experiment(n, 'training', trainee.description);
      const trained = await scope.run(() => steps.train(state.options, state.prepared!, trainee));
      display.experiment(n, 'evaluating');
      if ('failure' in trained) evaluation = { status: 'crash', reason: trained.failure };
      else {
        outcome = trained;
        // 4. Score; 5. train again if in doubt (the baseline: to measure the noise).
        const first = await scope.run(() => steps.evaluate(state, trainee, trained));
        evaluation = isBaseline(n)
          ? await scope.run(() => measureNoise(run, trainee, first))
          : state.needsConfirmation(first)
            ? await scope.run(() => confirm(run, trainee, first))
            : first;
      }
    }
  } catch (err) {
    if (!(scope.consideredCancelled && isCancellation(err))) throw err;
    // Without a baseline nothing can be compared: it runs again on resume rather than being recorded.
    if (isBaseline(n)) return state.progress.settled(n, state.paused);
    evaluation = { status: 'cancelled', reason: 'cancelled by pause --now' };
    candidate ??= unproposed(state, p, 'cancelled while proposing');
  } finally {
    slots.release(n);
  }
  // 6. Decide, against the best at this moment; 7. record (pipelined, the next experiment need not wait).
  const record = decide(state, candidate, evaluation, outcome, startedAt);
  const recorded = run.recorder.record(record, slots.speculation.settle(n));
  // Pipelined, a failure surfaces where the run awaits the last record (never as an unhandled one).
  if (!slots.pipelined || isBaseline(n)) await recorded;
  else recorded.catch(() => undefined);
  if (isBaseline(n) && record.status !== 'keep') throw baselineFailure(record, outcome, config, evaluation);
  slots.experimentDone();
}
