// The run's state and its rules, in plain code so they can be unit-tested without Temporal.
// The workflow owns one RunState, feeds it results, and carries its snapshot across continue-as-new.
import type {
  BestResult,
  Candidate,
  Evaluation,
  ExperimentRecord,
  ExperimentStatus,
  Phase,
  PreparedRun,
  ProposalCost,
  RunOptions,
  RunStatus,
  RunSummary,
} from '../lib/types';
import { addCost, noSpend, totalTokens } from '../lib/proposers/pricing';

/** How many finished experiments the state keeps in memory (the full record lives in the run directory). */
export const RECENT_RECORDS = 20;
/** Operator notes kept (newest last); older ones have already been shown to the proposer. */
export const MAX_NOTES = 20;
export const MAX_NOTE_LENGTH = 2000;

export interface RunSnapshot {
  prepared: PreparedRun | null;
  nextExperiment: number;
  best: BestResult | null;
  baselineMetric: number | null;
  counts: Record<ExperimentStatus, number>;
  recent: ExperimentRecord[];
  notes: string[];
  paused: boolean;
  pausedReason: string | null;
  stopRequested: boolean;
  spend: ProposalCost;
}

export function emptyCounts(): Record<ExperimentStatus, number> {
  return { keep: 0, discard: 0, crash: 0, timeout: 0, invalid: 0 };
}

export function isImprovement(metric: number, best: number, direction: 'minimize' | 'maximize'): boolean {
  // Strictly better keeps, as in autoresearch: a tie is not progress.
  return direction === 'minimize' ? metric < best : metric > best;
}

export class RunState {
  phase: Phase = 'preparing';
  current: { n: number; description: string | null } | null = null;
  /** Experiments finished by this workflow execution (resets on continue-as-new). */
  finishedThisExecution = 0;

  private constructor(
    readonly options: RunOptions,
    private s: RunSnapshot,
  ) {}

  static start(options: RunOptions, snapshot?: Partial<RunSnapshot>): RunState {
    // Fields added in later versions get their defaults when an older snapshot continues as new.
    return new RunState(options, {
      prepared: null,
      nextExperiment: 0,
      best: null,
      baselineMetric: null,
      counts: emptyCounts(),
      recent: [],
      notes: [],
      paused: false,
      pausedReason: null,
      stopRequested: false,
      spend: noSpend(),
      ...snapshot,
    });
  }

  snapshot(): RunSnapshot {
    // structuredClone is not in the workflow sandbox; the snapshot is plain JSON anyway.
    return JSON.parse(JSON.stringify(this.s)) as RunSnapshot;
  }

  get prepared(): PreparedRun | null {
    return this.s.prepared;
  }
  get nextExperiment(): number {
    return this.s.nextExperiment;
  }
  get best(): BestResult | null {
    return this.s.best;
  }
  get paused(): boolean {
    return this.s.paused;
  }
  get pausedReason(): string | null {
    return this.s.pausedReason;
  }
  get stopRequested(): boolean {
    return this.s.stopRequested;
  }
  get notes(): readonly string[] {
    return this.s.notes;
  }
  get experimentsDone(): number {
    return Object.values(this.s.counts).reduce((a, b) => a + b, 0);
  }

  setPrepared(prepared: PreparedRun): void {
    this.s.prepared = prepared;
  }

  pause(reason: string | null = null): void {
    this.s.paused = true;
    this.s.pausedReason = reason;
  }
  resume(): void {
    this.s.paused = false;
    this.s.pausedReason = null;
  }
  stop(): void {
    this.s.stopRequested = true;
  }
  addNote(note: string): void {
    const trimmed = note.trim();
    if (!trimmed)
      throw new Error(
        'redirect note is empty: pass the instruction text, e.g. redirect "try a smaller model"',
      );
    if (trimmed.length > MAX_NOTE_LENGTH)
      throw new Error(`redirect note is ${trimmed.length} characters; keep it under ${MAX_NOTE_LENGTH}`);
    this.s.notes.push(trimmed);
    if (this.s.notes.length > MAX_NOTES) this.s.notes.splice(0, this.s.notes.length - MAX_NOTES);
  }

  /** True once the proposals have cost what the run may spend. */
  get spendLimitReached(): boolean {
    const { maxDollars, maxTokens } = this.options;
    const spend = this.s.spend;
    return (
      (maxDollars !== undefined && spend.dollars >= maxDollars) ||
      (maxTokens !== undefined && totalTokens(spend) >= maxTokens)
    );
  }

  /** True when no further experiment should start. */
  get finished(): boolean {
    if (this.s.stopRequested || this.spendLimitReached) return true;
    const max = this.options.maxExperiments;
    return max !== undefined && this.s.nextExperiment > max;
  }

  /** The parent of the next candidate: the best commit so far (the baseline before any keep). */
  get parentCommit(): string {
    if (this.s.best) return this.s.best.commit;
    if (!this.s.prepared) throw new Error('run is not prepared yet');
    return this.s.prepared.baseCommit;
  }

  /** Turn an evaluation into a status: keep only a valid metric strictly better than the best. */
  decide(evaluation: Evaluation): ExperimentStatus {
    if (evaluation.status !== 'ok') return evaluation.status;
    const direction = this.s.prepared?.config.metric.direction ?? 'minimize';
    if (evaluation.metric === undefined) return 'invalid';
    if (!this.s.best) return 'keep';
    return isImprovement(evaluation.metric, this.s.best.metric, direction) ? 'keep' : 'discard';
  }

  /** Fold a finished experiment into the state. Must be called once per experiment number, in order. */
  finish(record: ExperimentRecord): void {
    if (record.n !== this.s.nextExperiment)
      throw new Error(`experiment ${record.n} finished but ${this.s.nextExperiment} was expected`);
    this.s.counts[record.status] += 1;
    if (record.cost) this.s.spend = addCost(this.s.spend, record.cost);
    if (record.status === 'keep' && record.metric !== undefined) {
      this.s.best = { n: record.n, commit: record.commit, metric: record.metric };
      if (record.n === 0) this.s.baselineMetric = record.metric;
    }
    // The log tail is for the next proposal only; it lives in the record file, not in the state.
    const { logTail: _logTail, ...kept } = record;
    this.s.recent.push(kept);
    if (this.s.recent.length > RECENT_RECORDS) this.s.recent.splice(0, this.s.recent.length - RECENT_RECORDS);
    this.s.nextExperiment += 1;
    this.finishedThisExecution += 1;
    this.current = null;
  }

  begin(candidate: Pick<Candidate, 'n' | 'description'> | { n: number; description: null }): void {
    this.current = { n: candidate.n, description: candidate.description };
  }

  status(): RunStatus {
    const p = this.s.prepared;
    return {
      tag: this.options.tag,
      phase: this.phase,
      currentExperiment: this.current?.n ?? null,
      currentDescription: this.current?.description ?? null,
      best: this.s.best,
      metricName: p?.config.metric.name ?? null,
      direction: p?.config.metric.direction ?? null,
      experimentsDone: this.experimentsDone,
      counts: { ...this.s.counts },
      recent: [...this.s.recent],
      paused: this.s.paused,
      pausedReason: this.s.pausedReason,
      stopRequested: this.s.stopRequested,
      notes: [...this.s.notes],
      spend: { ...this.s.spend },
      runDir: p?.runDir ?? null,
      branch: p?.branch ?? null,
      maxExperiments: this.options.maxExperiments ?? null,
    };
  }

  summary(): RunSummary {
    const p = this.s.prepared;
    return {
      tag: this.options.tag,
      reason: this.s.stopRequested ? 'stopped' : this.spendLimitReached ? 'spend-limit' : 'max-experiments',
      experimentsDone: this.experimentsDone,
      best: this.s.best,
      baselineMetric: this.s.baselineMetric,
      counts: { ...this.s.counts },
      branch: p?.branch ?? null,
      resultsPath: p ? `${p.runDir}/results.tsv` : null,
      notes: [...this.s.notes],
      spend: { ...this.s.spend },
    };
  }
}
