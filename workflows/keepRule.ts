// When a result is an improvement. `strict` is autoresearch's rule: any strictly better metric keeps.
// `noise-aware` asks for a gain the run's noise cannot explain: more than k standard errors of the
// difference between the candidate's mean and the best's mean, k widened to Student's t while the noise
// is measured from few runs. A candidate that gains less than that, or gains at all while the noise
// estimate is stale, is trained again with other seeds first; its mean then decides. Pure functions:
// the workflow, the CLI and the bench share them.
import { identicalRunsAreExact, recordRuns, repeatsUnseeded } from './compat';
import { tMargin } from './studentT';
import type {
  BestResult,
  Evaluation,
  ExperimentRecord,
  ExperimentStatus,
  KeepRule,
  MetricDirection,
  NoiseBy,
  NoiseEstimate,
  RunOptions,
  SeedRuns,
  TargetConfig,
} from '../common/types';

/**
 * A first run is kept without confirmation only when it clears the margin this many times over, so
 * that its outcome was never in doubt. A lucky single run that clears the margin by a little is the
 * commonest false keep, and kept it becomes a best whose one lucky number later candidates must beat
 * (on tinylm, 2 here let a run 3 standard deviations lucky become the best, and three real gains after
 * it were discarded; a simulation of the loop keeps as few false and as many true changes with 4 as
 * when every gain is confirmed).
 */
export const CLEAR_WIN = 4;

/** How many measured experiments the noise estimate pools, newest first: the noise may drift as the model changes. */
export const NOISE_WINDOW = 4;

/**
 * The runs of one candidate with different seeds: their mean and their sample standard deviation.
 * `exact` (KeepRule.identicalRunsExact): the mean of identical runs is their value, not the rounded sum's.
 */
export function seedRuns(metrics: number[], exact = false): { mean: number; runs: SeedRuns } {
  const mean = exact && allEqual(metrics) ? metrics[0]! : metrics.reduce((a, b) => a + b, 0) / metrics.length;
  // With `exact`, identical runs have their value for mean, so their spread is exactly 0. Without it (runs
  // recorded before), the rounding error of the mean stays in the spread: their decisions replay as made.
  const variance =
    metrics.length < 2 ? 0 : metrics.reduce((a, m) => a + (m - mean) ** 2, 0) / (metrics.length - 1);
  return { mean, runs: { metrics, std: Math.sqrt(variance) } };
}

function allEqual(metrics: readonly number[]): boolean {
  return metrics.every((m) => m === metrics[0]);
}

/** How many runs the noise estimate pools. */
export function runsMeasured(noise: NoiseEstimate): number {
  return noise.groups.reduce((a, g) => a + g.metrics.length, 0);
}

/** Whether every measurement of `noise` was identical runs: a deterministic target, whose noise is 0. */
export function identicalRuns(noise: NoiseEstimate | null): boolean {
  return !!noise && noise.groups.length > 0 && noise.groups.every((g) => allEqual(g.metrics));
}

/**
 * The run's noise after experiment `n` was trained with several seeds: the pooled standard deviation of
 * the latest NOISE_WINDOW such experiments (each one's spread around its own mean), so every
 * confirmation sharpens the estimate made from the baseline's few runs.
 */
export function addMeasurement(noise: NoiseEstimate | null, n: number, metrics: number[]): NoiseEstimate {
  const groups = [...(noise?.groups ?? []), { n, metrics }].slice(-NOISE_WINDOW);
  let squares = 0;
  let freedom = 0;
  for (const g of groups) {
    const { mean } = seedRuns(g.metrics);
    squares += g.metrics.reduce((a, m) => a + (m - mean) ** 2, 0);
    freedom += g.metrics.length - 1;
  }
  return { std: freedom > 0 ? Math.sqrt(squares / freedom) : 0, groups, keepsSince: 0 };
}

/** How much better `metric` is than `best` (positive: better), whichever way the metric goes. */
export function gain(metric: number, best: number, direction: MetricDirection): number {
  return direction === 'minimize' ? best - metric : metric - best;
}

/** The degrees of freedom of the estimate: each measured experiment's runs, less one for its mean. */
export function degreesOfFreedom(noise: NoiseEstimate): number {
  return noise.groups.reduce((a, g) => a + g.metrics.length - 1, 0);
}

/**
 * The standard errors a gain needs: k, widened to the Student t quantile of the same confidence while
 * the noise is estimated from few runs (k = 2 needs 4.5 with the baseline's 3 runs alone, 2.4 with 8
 * degrees of freedom).
 */
export function marginFor(rule: KeepRule, noise: NoiseEstimate): number {
  return tMargin(rule.margin, degreesOfFreedom(noise));
}

/** The gain a candidate of `runs` runs needs over a best of `bestRuns` runs. */
export function requiredGain(rule: KeepRule, noise: NoiseEstimate, runs: number, bestRuns: number): number {
  return marginFor(rule, noise) * noise.std * Math.sqrt(1 / runs + 1 / bestRuns);
}

/**
 * The rule that applies: noise-aware needs a measured noise; without one (or, in runs started with
 * identicalRunsExact, when every run measured scored the same) it is the strict rule.
 */
function noiseInUse(rule: KeepRule | null | undefined, noise: NoiseEstimate | null): NoiseEstimate | null {
  if (identicalRunsAreExact(rule) && identicalRuns(noise)) return null;
  return rule?.rule === 'noise-aware' && noise && noise.std > 0 && degreesOfFreedom(noise) > 0 ? noise : null;
}

/** The keep rule: a valid metric better than the best keeps (the first one, the baseline, always). */
export function decideStatus(
  evaluation: Evaluation,
  best: BestResult | null,
  direction: MetricDirection,
  rule?: KeepRule,
  noise: NoiseEstimate | null = null,
): ExperimentStatus {
  if (evaluation.status !== 'ok') return evaluation.status;
  if (evaluation.metric === undefined) return 'invalid';
  if (!best) return 'keep';
  const g = gain(evaluation.metric, best.metric, direction);
  // Strictly better keeps, as in autoresearch: a tie is not progress.
  if (g <= 0) return 'discard';
  // A change that crashes or diverges with another seed is not a trustworthy improvement.
  if (evaluation.failedRuns?.length) return 'discard';
  const measured = noiseInUse(rule, noise);
  if (measured === null) return 'keep';
  const runs = evaluation.runs?.metrics.length ?? 1;
  return g >= requiredGain(rule!, measured, runs, best.runs ?? 1) ? 'keep' : 'discard';
}

/**
 * Whether a candidate scored once is trained again with other seeds before the decision: under the
 * noise-aware rule, when it is better than the best but not by CLEAR_WIN times the margin, or when it
 * is better at all while the noise estimate is stale (its runs then measure the noise again).
 */
export function needsConfirmation(
  evaluation: Evaluation,
  best: BestResult | null,
  direction: MetricDirection,
  rule: KeepRule | undefined,
  noise: NoiseEstimate | null,
): boolean {
  const measured = noiseInUse(rule, noise);
  if (measured === null || !best || evaluation.status !== 'ok' || evaluation.metric === undefined)
    return false;
  if ((evaluation.runs?.metrics.length ?? 1) > 1 || rule!.confirmRuns < 1) return false;
  const g = gain(evaluation.metric, best.metric, direction);
  if (g <= 0) return false;
  const stale = measured.keepsSince >= rule!.staleAfterKeeps;
  return stale || g < CLEAR_WIN * requiredGain(rule!, measured, 1, best.runs ?? 1);
}

/** Why a noise-aware decision went the way it did, for the record and `status`. */
export function verdict(
  status: ExperimentStatus,
  evaluation: Evaluation,
  best: BestResult | null,
  direction: MetricDirection,
  rule: KeepRule | undefined,
  noise: NoiseEstimate | null,
): string | undefined {
  const measured = noiseInUse(rule, noise);
  if (measured === null || !best || evaluation.metric === undefined || evaluation.status !== 'ok')
    return undefined;
  if (status !== 'keep' && status !== 'discard') return undefined;
  if (evaluation.failedRuns?.length) return `a confirmation run failed: ${evaluation.failedRuns.join('; ')}`;
  const runs = evaluation.runs?.metrics.length ?? 1;
  const g = gain(evaluation.metric, best.metric, direction);
  const need = requiredGain(rule!, measured, runs, best.runs ?? 1);
  const over = runs > 1 ? `mean of ${runs} ${runsWord(evaluation.runs?.by)}` : 'one run';
  const t = marginFor(rule!, measured);
  return (
    `${over}: gain ${fmt(g)} ${g >= need && g > 0 ? '>=' : '<'} ${fmt(need)} needed ` +
    `(${fmt(t)} SE: k ${rule!.margin} at ${degreesOfFreedom(measured)} degrees of freedom; noise ±${fmt(measured.std)})`
  );
}

function fmt(x: number): string {
  return Number(x.toPrecision(3)).toString();
}

/**
 * The noise estimate once `record` is decided: a keep ages it, and an experiment trained with several
 * seeds is a new measurement. The workflow folds every record in as it is decided; a finished run's
 * status folds its record files the same way.
 */
export function noiseAfter(noise: NoiseEstimate | null, record: ExperimentRecord): NoiseEstimate | null {
  const aged =
    noise && record.status === 'keep' && record.n > 0
      ? { ...noise, keepsSince: noise.keepsSince + 1 }
      : noise;
  const runs = recordRuns(record);
  return runs && runs.metrics.length > 1 ? addMeasurement(aged, record.n, runs.metrics) : aged;
}

/**
 * How the run trains an experiment again (the baseline's noise runs, a candidate's confirmation): with
 * other seeds when the target says how to set one; otherwise by repeating the identical run, in runs
 * started with `repeatUnseeded`; null: not at all (a run started before repeats, on a target with no seed
 * setting). Undefined before the target's config is read.
 */
export function noiseByOf(
  options: Pick<RunOptions, 'repeatUnseeded'>,
  train: TargetConfig['train'] | undefined,
): NoiseBy | null | undefined {
  if (!train) return undefined;
  if (train.seedEnv !== undefined || train.seedArg !== undefined) return 'seed';
  return repeatsUnseeded(options) ? 'repeat' : null;
}

/**
 * What the runs of one experiment are called: seeds, or repeats of the identical run; null: not known
 * yet (before the target's config is read). Records and workers older than repeats mean seeds.
 */
export function runsWord(by: NoiseBy | undefined | null): string {
  return by === 'repeat' ? 'repeats' : by === null ? 'runs' : 'seeds';
}

/** `count` more runs of an experiment, in words: "2 more seeds", "1 more repeat". */
export function moreRuns(count: number, by: NoiseBy | null): string {
  const word = runsWord(by);
  return `${count} more ${count === 1 ? word.replace(/s$/, '') : word}`;
}

/** The rule chosen in words (the run's page in the Web UI; `status` says which rule is in force). */
export function describeKeepRule(rule: KeepRule | null | undefined, by: NoiseBy | null = 'seed'): string {
  if (!rule || rule.rule === 'strict') return 'strict (any better metric keeps)';
  return `noise-aware (${noiseAwareTerms(rule, by)})`;
}

function noiseAwareTerms(rule: KeepRule, by: NoiseBy | null): string {
  return (
    `a gain must exceed ${rule.margin} standard errors; a smaller one trains ${moreRuns(rule.confirmRuns, by)} and ` +
    `its mean decides; the noise is measured again after ${rule.staleAfterKeeps} keeps`
  );
}

/**
 * The rule in force in words, for `status`, the live view and the run's current details in the Web UI:
 * noise-aware only once a noise above 0 is measured; a deterministic target (identical runs), a run
 * still measuring, or one that cannot measure is strict, and says so and why. `noiseBy` undefined: a
 * worker older than it answered.
 */
export function keepRuleInForce(
  rule: KeepRule | null | undefined,
  noise: NoiseEstimate | null,
  noiseBy: NoiseBy | null | undefined,
): string {
  const strict = 'strict (any better metric keeps)';
  if (!rule || rule.rule === 'strict') return strict;
  const by = noiseBy ?? 'seed';
  if (noiseInUse(rule, noise)) return `noise-aware in force (${noiseAwareTerms(rule, by)})`;
  const inEffect = 'strict in effect (any better metric keeps)';
  if (identicalRuns(noise) && noise) {
    return `${inEffect}: the noise measured 0 (${runsMeasured(noise)} identical runs), a deterministic target`;
  }
  if (noiseBy === undefined) return `${inEffect}: no noise measured (yet)`;
  if (noiseBy === null)
    return (
      `${inEffect}: no noise can be measured, the target sets no seed and this run does not repeat runs ` +
      '(add seed_env or seed_arg under [train] in its autoresearch.toml, or start a new run: it repeats the identical run)'
    );
  return `strict until the noise is measured, then noise-aware (${noiseAwareTerms(rule, by)})`;
}
