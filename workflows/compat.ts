// Every path that keeps a run started by an older version doing what it was recorded doing, in one
// place. A live run survives a worker upgrade only if each decision it already made is made again the
// same way on replay, so each change of a decision is guarded, either by
//   - a value pinned in the run's options when `start` runs (an option absent means "started before it"),
//     which needs no marker in the history: new runs always carry it; or
//   - `patched('<id>')`, for a change with no option to pin (a marker is recorded the first time the new
//     code runs; histories without it take the old path). Once no run older than it can be live, the
//     old path goes and the call becomes `deprecatePatch('<id>')`, then nothing.
// Each entry below names the change it guards and how. Do not add patched() to a path already guarded
// by a pinned option: the marker would change the histories of the runs that option already covers.
// Pure apart from patched(): the CLI imports these too, to read old runs the way their workflow did.
import { patched } from '@temporalio/workflow';
import type { KeepRule, NoiseEstimate, RunOptions, SeedRuns, TargetConfig } from '../common/types';
import { trainStepSeconds } from '../common/trainBound';

/** Every control step's start-to-close timeout; also the proposal step's in runs older than its own bound. */
export const CONTROL_STEP_TIMEOUT = '5 minutes';

/**
 * Experiments in flight at once. Change: several slots (`--parallel`). Guard: `parallel`, pinned at
 * start; runs started before it run one at a time.
 */
export function slotCount(options: Pick<RunOptions, 'parallel'>): number {
  return Math.max(1, options.parallel ?? 1);
}

/**
 * Whether the next proposal is made while a slot trains. Change: pipelining (`--pipeline`). Guard:
 * `pipeline`, pinned at start; runs started before it propose after each record.
 */
export function pipelined(options: Pick<RunOptions, 'pipeline'>): boolean {
  return options.pipeline ?? false;
}

/**
 * The proposal step's own bound, in seconds; null: the control step's CONTROL_STEP_TIMEOUT, as every
 * control step. Change: the proposer's bound (a coding agent may take longer than 5 minutes), with
 * cancellation waited for. Guard: `proposeTimeoutSeconds`, pinned at start.
 */
export function proposeStepSeconds(options: Pick<RunOptions, 'proposeTimeoutSeconds'>): number | null {
  return options.proposeTimeoutSeconds ?? null;
}

/**
 * The training step's start-to-close bound. Change: the bound covers every part of the step (set-up,
 * training, evaluation, fetch) instead of the training timeout + 30 minutes. Guard: `trainStepBound:
 * 'all-parts'`, pinned at start.
 */
export function trainStepBoundSeconds(
  options: Pick<RunOptions, 'trainStepBound' | 'remote'>,
  config: TargetConfig,
): number {
  return options.trainStepBound === 'all-parts'
    ? trainStepSeconds(config, options.remote !== undefined)
    : config.train.timeoutSeconds + 30 * 60;
}

/**
 * What prepare is told about the baseline commit. Change: `start` pins the commit it checked (its HEAD
 * then). Guard: `baseline`, pinned at start; without it prepare reads HEAD, as it did.
 */
export function pinnedBaseline(options: Pick<RunOptions, 'baseline'>): { baseline?: string } {
  return options.baseline ? { baseline: options.baseline } : {};
}

/**
 * Whether a target that sets no seed repeats the identical run to measure its noise and confirm gains.
 * Change: repeats of unseeded targets. Guard: `repeatUnseeded`, pinned at start; before it such a
 * target trained once.
 */
export function repeatsUnseeded(options: Pick<RunOptions, 'repeatUnseeded'>): boolean {
  return options.repeatUnseeded === true;
}

/**
 * Whether identical runs are exactly their value (mean) and a noise of 0 (the strict rule decides).
 * Change: exact identical runs. Guard: `keepRule.identicalRunsExact`, pinned at start; before it the
 * rounding error of the mean counted as noise.
 */
export function identicalRunsAreExact(
  rule: Pick<KeepRule, 'identicalRunsExact'> | null | undefined,
): boolean {
  return rule?.identicalRunsExact === true;
}

/** patched() id: a proposal waiting for a slot is rebased ahead onto a candidate in training. */
const REBASE_AHEAD = 'rebase-ahead';

/**
 * Whether a proposal made ahead is replayed onto the candidate in training before that one is decided
 * (workflows/speculation.ts), so a keep needs no rebase between two trainings. Change: rebasing ahead.
 * Guard: patched('rebase-ahead'), asked only where a rebase ahead would start.
 */
export function rebasesAhead(): boolean {
  return patched(REBASE_AHEAD);
}

/** patched() id: a record that cannot be written pauses the run (see recordFailurePauses). */
const RECORD_FAILURE_PAUSES = 'record-failure-pauses';

/**
 * Whether a record step that fails pauses the run until `resume`. Change: pausing instead of failing
 * the workflow task (pipelined) or the run (one step at a time). Guard: patched('record-failure-pauses').
 */
export function recordFailurePauses(): boolean {
  return patched(RECORD_FAILURE_PAUSES);
}

/**
 * The noise estimate carried in a snapshot. Change: the pooled estimate ({std, groups, keepsSince}) of
 * the keep rules. Guard: the snapshot's shape; runs started before carried the baseline's runs alone
 * ({metrics, std}), which are the same measurement as the first group.
 */
export function snapshotNoise(
  noise: unknown,
  asFirstGroup: (metrics: number[]) => NoiseEstimate,
): NoiseEstimate | null {
  if (!noise) return null;
  const legacy = noise as { metrics?: number[]; groups?: unknown };
  if (legacy.groups === undefined && Array.isArray(legacy.metrics)) return asFirstGroup(legacy.metrics);
  return noise as NoiseEstimate;
}

/**
 * The runs of one experiment in a record. Change: `runs` for every experiment trained several times.
 * Guard: the record's shape; baseline records written before the keep rules held them under `noise`.
 */
export function recordRuns(record: { runs?: SeedRuns }): SeedRuns | undefined {
  return record.runs ?? (record as { noise?: SeedRuns }).noise;
}

/**
 * A snapshot continued as new from an older version: the fields it lacks take their defaults, and
 * counts gain the statuses added since (`cancelled`). Guard: the snapshot's shape (missing = older).
 */
export function withSnapshotDefaults<S extends { counts: Record<string, number> }>(
  defaults: S,
  snapshot: Partial<S> | undefined,
): S {
  return { ...defaults, ...snapshot, counts: { ...defaults.counts, ...snapshot?.counts } };
}
