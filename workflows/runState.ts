// The run's state and its rules, in plain code so they can be unit-tested without Temporal.
// The workflow owns one RunState, feeds it results, and carries its snapshot across continue-as-new.
import type {
  BestResult,
  Candidate,
  Evaluation,
  ExperimentRecord,
  ExperimentStatus,
  LimitsChange,
  Phase,
  PreparedRun,
  ProposalCost,
  RunOptions,
  RunStatus,
  RunSummary,
} from '../lib/types';
import { CONSTANT_IDEA } from '../lib/proposers/mutate';
import { addCost, noSpend, totalTokens } from '../lib/proposers/pricing';

/** How many finished experiments the state keeps in memory (the full record lives in the run directory). */
export const RECENT_RECORDS = 20;
/** Operator notes kept (newest last); older ones have already been shown to the proposer. */
export const MAX_NOTES = 20;
export const MAX_NOTE_LENGTH = 2000;
/** Queued ideas waiting at once; a longer plan belongs in program.md. */
export const MAX_QUEUE = 50;

export interface RunSnapshot {
  prepared: PreparedRun | null;
  nextExperiment: number;
  best: BestResult | null;
  baselineMetric: number | null;
  counts: Record<ExperimentStatus, number>;
  recent: ExperimentRecord[];
  notes: string[];
  queue: string[];
  paused: boolean;
  pausedReason: string | null;
  stopRequested: boolean;
  spend: ProposalCost;
}

export function emptyCounts(): Record<ExperimentStatus, number> {
  return { keep: 0, discard: 0, crash: 0, timeout: 0, invalid: 0, cancelled: 0 };
}

export function isImprovement(metric: number, best: number, direction: 'minimize' | 'maximize'): boolean {
  // Strictly better keeps, as in autoresearch: a tie is not progress.
  return direction === 'minimize' ? metric < best : metric > best;
}

/** What a person filters the run list by (the AutoresearchStatus search attribute). */
export type RunLabel = 'running' | 'paused' | 'stopping' | 'finished' | 'stopped';

export class RunState {
  phase: Phase = 'preparing';
  /** Workflow time (ms) when the current phase began. */
  phaseStartedAt: number | null = null;
  current: { n: number; description: string | null } | null = null;
  /** Experiments finished by this workflow execution (resets on continue-as-new). */
  finishedThisExecution = 0;

  private constructor(
    private opts: RunOptions,
    private s: RunSnapshot,
  ) {}

  static start(options: RunOptions, snapshot?: Partial<RunSnapshot>): RunState {
    // Fields added in later versions get their defaults when an older snapshot continues as new.
    return new RunState(options, {
      prepared: null,
      nextExperiment: 0,
      best: null,
      baselineMetric: null,
      recent: [],
      notes: [],
      queue: [],
      paused: false,
      pausedReason: null,
      stopRequested: false,
      spend: noSpend(),
      ...snapshot,
      counts: { ...emptyCounts(), ...snapshot?.counts },
    });
  }

  /** The run's options, with the limits as last changed (carried across continue-as-new). */
  get options(): RunOptions {
    return this.opts;
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
  /** The operator's idea the next experiment tries, if any are queued. */
  get nextIdea(): string | undefined {
    return this.s.queue[0];
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
  enterPhase(phase: Phase, at: number): void {
    if (phase !== this.phase) this.phaseStartedAt = at;
    this.phase = phase;
  }

  /** The update validators: each throws a message that names the problem and the fix. */
  checkNote(note: unknown): string {
    this.checkOpen('redirect');
    return operatorText(note, {
      command: 'redirect',
      label: 'redirect note',
      noun: 'the note',
      what: 'the instruction text',
      example: '"try a smaller model"',
    });
  }
  checkIdea(idea: unknown): string {
    this.checkOpen('queue');
    const trimmed = operatorText(idea, {
      command: 'queue',
      label: 'the idea',
      noun: 'the idea',
      what: 'what to try next',
      example: '"use RMSNorm"',
    });
    if (this.opts.proposer === 'mutate' && !CONSTANT_IDEA.test(trimmed))
      throw new Error(
        `the mutate proposer cannot read prose: queue one constant to set, e.g. queue "LEARNING_RATE=0.01" (got "${trimmed}")`,
      );
    if (this.s.queue.length >= MAX_QUEUE)
      throw new Error(
        `${MAX_QUEUE} ideas are queued already; wait for some to run, or write a plan in program.md`,
      );
    return trimmed;
  }
  checkLimits(change: unknown, now: number): LimitsChange {
    this.checkOpen('limits');
    if (typeof change !== 'object' || change === null || Array.isArray(change))
      throw new Error(
        'limits takes an object, e.g. {"maxExperiments": 50, "deadline": "2026-11-28T07:00:00Z"}',
      );
    const { maxExperiments, deadline, ...rest } = change as Record<string, unknown>;
    const unknownKeys = Object.keys(rest);
    if (unknownKeys.length)
      throw new Error(`limits knows maxExperiments and deadline, not ${unknownKeys.join(', ')}`);
    if (maxExperiments === undefined && deadline === undefined)
      throw new Error(
        'limits changes nothing: pass maxExperiments and/or deadline, e.g. {"maxExperiments": 50}',
      );
    if (maxExperiments !== undefined && maxExperiments !== null) {
      if (typeof maxExperiments !== 'number' || !Number.isInteger(maxExperiments) || maxExperiments < 0)
        throw new Error(
          `maxExperiments must be a whole number >= 0 (or null for no limit); got ${String(maxExperiments)}`,
        );
      const started = Math.max(this.s.nextExperiment - 1, 0);
      if (maxExperiments < started)
        throw new Error(
          `maxExperiments ${maxExperiments} is below the ${started} experiments already started; use stop to end the run now`,
        );
    }
    if (deadline !== undefined && deadline !== null) {
      if (typeof deadline !== 'string' || Number.isNaN(Date.parse(deadline)))
        throw new Error(
          `deadline must be an ISO date-time such as 2026-11-28T07:00:00Z; got ${String(deadline)}`,
        );
      if (Date.parse(deadline) <= now)
        throw new Error(`deadline ${deadline} has passed already; use stop to end the run now`);
    }
    return {
      ...(maxExperiments !== undefined ? { maxExperiments: maxExperiments as number | null } : {}),
      ...(deadline !== undefined ? { deadline: deadline as string | null } : {}),
    };
  }
  private checkOpen(what: string): void {
    // Not `finished`: raising the limit while the last experiment runs is exactly when a person wants to.
    if (this.s.stopRequested || this.phase === 'finished' || this.phase === 'stopped')
      throw new Error(`the run is ending, so ${what} would have no effect; start a new run instead`);
  }

  addNote(note: string): void {
    this.s.notes.push(this.checkNote(note));
    if (this.s.notes.length > MAX_NOTES) this.s.notes.splice(0, this.s.notes.length - MAX_NOTES);
  }
  queueIdea(idea: string): void {
    this.s.queue.push(this.checkIdea(idea));
  }
  setLimits(change: LimitsChange): void {
    const next = { ...this.opts };
    if (change.maxExperiments !== undefined) {
      if (change.maxExperiments === null) delete next.maxExperiments;
      else next.maxExperiments = change.maxExperiments;
    }
    if (change.deadline !== undefined) {
      if (change.deadline === null) delete next.deadline;
      else next.deadline = new Date(Date.parse(change.deadline)).toISOString();
    }
    this.opts = next;
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

  /** True once the deadline has passed (workflow time in the workflow, so deterministic). */
  get deadlinePassed(): boolean {
    return this.opts.deadline !== undefined && Date.now() >= Date.parse(this.opts.deadline);
  }

  /** True when no further experiment should start. */
  get finished(): boolean {
    if (this.s.stopRequested || this.spendLimitReached || this.deadlinePassed) return true;
    const max = this.opts.maxExperiments;
    return max !== undefined && this.s.nextExperiment > max;
  }

  get label(): RunLabel {
    if (this.phase === 'finished') return 'finished';
    if (this.phase === 'stopped') return 'stopped';
    if (this.s.stopRequested) return 'stopping';
    return this.s.paused ? 'paused' : 'running';
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
    // A tried idea leaves the queue; a cancelled experiment did not try it, so it stays first in line.
    if (record.idea !== undefined && record.idea === this.s.queue[0] && record.status !== 'cancelled')
      this.s.queue.shift();
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
      baselineMetric: this.s.baselineMetric,
      metricName: p?.config.metric.name ?? null,
      direction: p?.config.metric.direction ?? null,
      experimentsDone: this.experimentsDone,
      counts: { ...this.s.counts },
      recent: [...this.s.recent],
      paused: this.s.paused,
      pausedReason: this.s.pausedReason,
      stopRequested: this.s.stopRequested,
      notes: [...this.s.notes],
      queue: [...this.s.queue],
      spend: { ...this.s.spend },
      runDir: p?.runDir ?? null,
      branch: p?.branch ?? null,
      maxExperiments: this.opts.maxExperiments ?? null,
      deadline: this.opts.deadline ?? null,
      phaseStartedAt: this.phaseStartedAt,
      budgetSeconds: p?.config.train.budgetSeconds ?? null,
      target: targetName(this.opts.repo),
    };
  }

  summary(): RunSummary {
    const p = this.s.prepared;
    return {
      tag: this.options.tag,
      reason: this.s.stopRequested
        ? 'stopped'
        : this.spendLimitReached
          ? 'spend-limit'
          : this.deadlinePassed
            ? 'deadline'
            : 'max-experiments',
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

/** Text from the operator (a note, an idea), trimmed; each refusal names the command and an example. */
function operatorText(
  value: unknown,
  m: { command: string; label: string; noun: string; what: string; example: string },
): string {
  if (typeof value !== 'string')
    throw new Error(`${m.command} takes one string: ${m.noun}, e.g. ${m.example}`);
  const trimmed = value.trim();
  if (!trimmed) throw new Error(`${m.label} is empty: pass ${m.what}, e.g. ${m.command} ${m.example}`);
  if (trimmed.length > MAX_NOTE_LENGTH)
    throw new Error(`${m.label} is ${trimmed.length} characters; keep it under ${MAX_NOTE_LENGTH}`);
  return trimmed;
}

/** A target's name for people: its repository folder's name (no Node path module in the workflow). */
export function targetName(repo: string): string {
  return repo.split(/[\\/]/).filter(Boolean).pop() ?? repo;
}
