// Training an experiment again, with seeds 1, 2 ... (or repeats of the identical run, for a target that
// sets no seed): the baseline's noise runs (baseline.ts) and the confirmation of a doubtful gain.
// The experiment's metric becomes the mean of all its runs.
import type { Candidate, Evaluation, NoiseBy } from '../common/types';
import { identicalRunsAreExact } from './compat';
import { moreRuns, noiseByOf, seedRuns } from './keepRule';
import type { Proposing } from './proposal';
import type { RunState } from './runState';
import * as steps from './steps';

/** How an experiment trains again: other seeds, repeats of the identical run, or not at all (null). */
export function noiseBy(state: RunState): NoiseBy | null {
  return noiseByOf(state.options, state.prepared!.config.train) ?? null;
}

/**
 * Under the noise-aware rule, a candidate whose gain the noise could explain trains again with seeds
 * 1, 2 ... (the seeds the baseline's noise runs used), or repeats as often; its mean over all runs is
 * then decided.
 */
export async function confirm(run: Proposing, candidate: Candidate, first: Evaluation): Promise<Evaluation> {
  const { state } = run;
  const more = state.options.keepRule?.confirmRuns ?? 0;
  const by = noiseBy(state);
  if (more < 1 || !by) return first;
  const doing = `${candidate.description} (confirming with ${moreRuns(more, by)})`;
  return trainAgain(run, candidate, first, more, doing);
}

/**
 * Trains and scores `more` runs with seeds 1..more (or repeats 1..more) at once (shown as `doing`);
 * the metric becomes the mean of them all.
 */
export async function trainAgain(
  run: Proposing,
  candidate: Candidate,
  first: Evaluation,
  more: number,
  doing: string,
): Promise<Evaluation> {
  const { state, display } = run;
  const { options } = state;
  display.experiment(candidate.n, 'training', doing);
  const by = noiseBy(state) ?? 'seed';
  const agains: steps.Again[] = Array.from({ length: more }, (_, k) =>
    by === 'repeat' ? { repeat: k + 1 } : { seed: k + 1 },
  );
  const results = await Promise.all(
    agains.map(async (again) => {
      const trained = await steps.train(options, state.prepared!, candidate, again);
      if ('failure' in trained)
        return { seconds: 0, failed: `${steps.againText(again)}: ${trained.failure}` };
      const evaluation = await steps.evaluate(state, candidate, trained, again);
      return evaluation.status === 'ok' && evaluation.metric !== undefined
        ? { seconds: trained.trainSeconds, metric: evaluation.metric }
        : {
            seconds: trained.trainSeconds,
            failed: `${steps.againText(again)}: ${evaluation.status}${evaluation.reason ? ` (${evaluation.reason})` : ''}`,
          };
    }),
  );
  const metrics = [first.metric!, ...results.flatMap((r) => (r.metric === undefined ? [] : [r.metric]))];
  const failedRuns = results.flatMap((r) => (r.failed === undefined ? [] : [r.failed]));
  const { mean, runs: measured } = seedRuns(metrics, identicalRunsAreExact(options.keepRule));
  const runs = by === 'repeat' ? { ...measured, by } : measured;
  const moreTrainSeconds = results.reduce((a, r) => a + r.seconds, 0);
  return { ...first, metric: mean, runs, moreTrainSeconds, ...(failedRuns.length ? { failedRuns } : {}) };
}
