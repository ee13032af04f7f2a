// What the run answers, built from its state: the `status` query, the summary it ends with, and the
// record of each decided experiment. Pure: the CLI builds a finished run's status with the same code,
// from a state folded from the run's record files (RunState.endedRunStatus).
import type {
  Candidate,
  Evaluation,
  ExperimentRecord,
  ExperimentStatus,
  PreparedRun,
  RunStatus,
  RunSummary,
  TargetConfig,
  TrainingOutcome,
} from '../common/types';
import { noiseByOf } from './keepRule';
import type { RunState } from './runState';

/** How many finished experiments the state keeps in memory (the full record lives in the run directory). */
export const RECENT_RECORDS = 20;

export function emptyCounts(): Record<ExperimentStatus, number> {
  return { keep: 0, discard: 0, crash: 0, timeout: 0, invalid: 0, cancelled: 0 };
}

/** A target's name for people: its repository folder's name (no Node path module in the workflow). */
export function targetName(repo: string): string {
  return repo.split(/[\\/]/).filter(Boolean).pop() ?? repo;
}

/** The record of a decided experiment: what was tried, how it scored, and what was decided. */
export function experimentRecord(
  candidate: Candidate,
  evaluation: Evaluation,
  decision: { status: ExperimentStatus; verdict?: string },
  outcome: TrainingOutcome | undefined,
  startedAt: number,
  finishedAt: number,
): ExperimentRecord {
  const { status, verdict } = decision;
  return {
    n: candidate.n,
    parent: candidate.parent,
    commit: candidate.commit,
    description: candidate.description,
    status,
    metric: evaluation.metric,
    memoryGb: evaluation.memoryGb,
    reason: evaluation.reason,
    ...(evaluation.runs ? { runs: evaluation.runs } : {}),
    ...(verdict !== undefined ? { verdict } : {}),
    hypothesis: candidate.hypothesis,
    cost: candidate.cost,
    idea: candidate.idea,
    logTail: status === 'crash' || status === 'timeout' ? outcome?.logTail : undefined,
    // GPU time: the runs with other seeds (noise measurement, confirmation) count too.
    trainSeconds: (outcome?.trainSeconds ?? 0) + (evaluation.moreTrainSeconds ?? 0),
    startedAt,
    finishedAt,
  };
}

/** Where a run's target and results are: its prepared run while live; what the CLI found once ended. */
export interface RunPlace {
  config: TargetConfig | null;
  runDir: string | null;
  branch: string | null;
}

function placeOf(prepared: PreparedRun | null): RunPlace {
  return {
    config: prepared?.config ?? null,
    runDir: prepared?.runDir ?? null,
    branch: prepared?.branch ?? null,
  };
}

export function runStatus(state: RunState, place: RunPlace = placeOf(state.prepared)): RunStatus {
  const { options, progress, input } = state;
  const config = place.config;
  return {
    tag: options.tag,
    phase: progress.phase,
    currentExperiment: progress.lead?.n ?? null,
    currentDescription: progress.lead?.description ?? null,
    inFlight: progress.inFlight,
    best: state.best,
    baselineMetric: state.baselineMetric,
    noise: state.noise,
    keepRule: options.keepRule ?? null,
    ...(config ? { noiseBy: noiseByOf(options, config.train) ?? null } : {}),
    metricName: config?.metric.name ?? null,
    direction: config?.metric.direction ?? null,
    experimentsDone: state.experimentsDone,
    counts: state.counts,
    recent: state.recent,
    paused: state.paused,
    pausedReason: state.pausedReason,
    stopRequested: state.stopRequested,
    notes: [...input.notes],
    queue: input.queue,
    spend: state.spend,
    runDir: place.runDir,
    branch: place.branch,
    maxExperiments: options.maxExperiments ?? null,
    deadline: options.deadline ?? null,
    phaseStartedAt: progress.phaseStartedAt,
    budgetSeconds: config?.train.budgetSeconds ?? null,
    target: targetName(options.repo),
  };
}

export function runSummary(state: RunState): RunSummary {
  const p = state.prepared;
  return {
    tag: state.options.tag,
    reason: state.stopRequested
      ? 'stopped'
      : state.spendLimitReached
        ? 'spend-limit'
        : state.deadlinePassed
          ? 'deadline'
          : 'max-experiments',
    experimentsDone: state.experimentsDone,
    best: state.best,
    baselineMetric: state.baselineMetric,
    counts: state.counts,
    branch: p?.branch ?? null,
    resultsPath: p ? `${p.runDir}/results.tsv` : null,
    notes: [...state.input.notes],
    spend: state.spend,
  };
}
