// The run's state and its rules, in plain code so they can be unit-tested without Temporal.
// The workflow owns one RunState, feeds it results, and carries its snapshot across continue-as-new.
import type {
  ActiveExperiment,
  BestResult,
  Candidate,
  Evaluation,
  ExperimentRecord,
  ExperimentPhase,
  ExperimentStatus,
  LimitsChange,
  NoiseEstimate,
  Phase,
  PreparedRun,
  ProposalCost,
  RunOptions,
  RunStatus,
  RunSummary,
  TrainingOutcome,
} from '../common/types';
import { CONSTANT_IDEA } from '../proposers/mutate/rules';
import { addMeasurement, decideStatus, needsConfirmation, noiseAfter, noiseByOf, verdict } from './keepRule';
import { addCost, noSpend, totalTokens } from '../proposers/pricing';

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
  /** The metric's run-to-run noise, pooled over the latest experiments trained with several seeds. */
  noise: NoiseEstimate | null;
  counts: Record<ExperimentStatus, number>;
  recent: ExperimentRecord[];
  notes: string[];
  queue: string[];
  paused: boolean;
  pausedReason: string | null;
  stopRequested: boolean;
  spend: ProposalCost;
  /**
   * Proposals made ahead of a free slot (pipelining) that no slot has trained yet: carried across
   * continue-as-new, so the next execution trains them first rather than proposing again.
   */
  ready: Candidate[];
}

/** Which experiment the run's phase names when several are in flight: the one using the GPU first. */
const PHASE_WEIGHT: Record<ExperimentPhase, number> = {
  training: 4,
  evaluating: 3,
  recording: 2,
  proposing: 1,
  ready: 0,
};

export function emptyCounts(): Record<ExperimentStatus, number> {
  return { keep: 0, discard: 0, crash: 0, timeout: 0, invalid: 0, cancelled: 0 };
}

/**
 * The noise estimate of a snapshot. Runs started before the keep rules carried the baseline's runs
 * alone ({metrics, std}): the same measurement, as the first group of the pooled estimate.
 */
function currentNoise(noise: unknown): NoiseEstimate | null {
  if (!noise) return null;
  const legacy = noise as { metrics?: number[]; groups?: unknown };
  if (legacy.groups === undefined && Array.isArray(legacy.metrics))
    return addMeasurement(null, 0, legacy.metrics);
  return noise as NoiseEstimate;
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

/** What a person filters the run list by (the AutoresearchStatus search attribute). */
export type RunLabel = 'running' | 'paused' | 'stopping' | 'finished' | 'stopped';

export class RunState {
  /** The run's own phase (preparing, paused, finished ...), shown while no experiment is in flight. */
  private basePhase: Phase = 'preparing';
  private basePhaseSince: number | null = null;
  /** Experiments in flight in this execution (several with --parallel, or a proposal made ahead). */
  private active = new Map<number, ActiveExperiment>();
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
      ready: [],
      ...snapshot,
      counts: { ...emptyCounts(), ...snapshot?.counts },
      noise: currentNoise(snapshot?.noise),
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
  /** The ideas queued, in the order the next proposals take them. */
  get queue(): string[] {
    return [...this.s.queue];
  }
  /** Proposals made ahead and carried over from the previous execution (taken once). */
  takeReady(): Candidate[] {
    return this.s.ready.splice(0);
  }
  /** Carried over to the next execution by continue-as-new. */
  setReady(candidates: Candidate[]): void {
    this.s.ready = candidates;
  }
  /** Experiments kept so far (the AutoresearchKept column), without building the whole status. */
  get kept(): number {
    return this.s.counts.keep;
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
    if (phase !== this.basePhase) this.basePhaseSince = at;
    this.basePhase = phase;
  }

  /** Experiment `n` enters a phase (its number was claimed, so it is in flight until `settled`). */
  track(n: number, phase: ExperimentPhase, at: number, description?: string | null): void {
    const was = this.active.get(n);
    this.active.set(n, {
      n,
      phase,
      since: was?.phase === phase ? was.since : at,
      description: description === undefined ? (was?.description ?? null) : description,
    });
  }

  /**
   * Experiment `n` is recorded; the run shows its last phase until the next one begins, unless the run
   * entered a phase of its own meanwhile (it paused while the record was written), or is paused and
   * shows it (it paused itself before this experiment even finished: a proposer that gave up).
   * Only what `status` answers changes: no command depends on it until the run moves again.
   */
  settled(n: number): void {
    const was = this.active.get(n);
    this.active.delete(n);
    const newer =
      (this.basePhaseSince !== null && this.basePhaseSince >= (was?.since ?? 0)) ||
      (this.s.paused && this.basePhase === 'paused');
    if (was && was.phase !== 'ready' && !this.lead && !newer) {
      this.basePhase = was.phase;
      this.basePhaseSince = was.since;
    }
  }

  /** The experiment the run's phase is about: the first training, else the first evaluating, and so on. */
  private get lead(): ActiveExperiment | undefined {
    if (this.basePhase === 'finished' || this.basePhase === 'stopped') return undefined;
    let lead: ActiveExperiment | undefined;
    for (const a of this.active.values())
      if (a.phase === 'ready') continue;
      else if (
        !lead ||
        PHASE_WEIGHT[a.phase] > PHASE_WEIGHT[lead.phase] ||
        (a.phase === lead.phase && a.n < lead.n)
      )
        lead = a;
    return lead;
  }

  get phase(): Phase {
    const lead = this.lead;
    return lead && lead.phase !== 'ready' ? lead.phase : this.basePhase;
  }
  /** Workflow time (ms) when the current phase began: with the budget, a progress bar for training. */
  get phaseStartedAt(): number | null {
    return this.lead ? this.lead.since : this.basePhaseSince;
  }
  get inFlight(): ActiveExperiment[] {
    return [...this.active.values()].sort((a, b) => a.n - b.n).map((a) => ({ ...a }));
  }

  /** Hands out the next experiment number (a proposal starts); every claimed number gets a record. */
  claim(): number {
    return this.s.nextExperiment++;
  }
  /** Gives back the last number claimed, when its experiment never began (a cancelled baseline, a stop). */
  unclaim(n: number): void {
    if (n !== this.s.nextExperiment - 1)
      throw new Error(
        `experiment ${n} cannot be unclaimed: ${this.s.nextExperiment - 1} was claimed after it`,
      );
    this.s.nextExperiment = n;
    this.active.delete(n);
  }

  /** What a proposal cost that never became an experiment (made ahead, the run ended first). */
  addSpend(cost: ProposalCost | undefined): void {
    if (cost) this.s.spend = addCost(this.s.spend, cost);
  }

  /** The operator's idea the next proposal tries, if any are queued; it leaves the queue now. */
  takeIdea(): string | undefined {
    return this.s.queue.shift();
  }
  /** An idea whose experiment never tried it (cancelled, or the run ended) goes back first in line. */
  returnIdea(idea: string | undefined): void {
    if (idea !== undefined) this.s.queue.unshift(idea);
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
      const started = Math.max(this.s.nextExperiment - 1, 0); // claimed numbers after the baseline
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

  /** True when the run must end as soon as the experiments in flight are done: stopped, spent, late. */
  get endRequested(): boolean {
    return this.s.stopRequested || this.spendLimitReached || this.deadlinePassed;
  }

  /** True when no further experiment should be claimed (those claimed already may still run). */
  get finished(): boolean {
    if (this.endRequested) return true;
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

  private get direction(): 'minimize' | 'maximize' {
    return this.s.prepared?.config.metric.direction ?? 'minimize';
  }

  /** Turn an evaluation into a status, by the run's keep rule, against the best at this moment. */
  decide(evaluation: Evaluation): { status: ExperimentStatus; verdict?: string } {
    const { best } = this.s;
    const rule = this.opts.keepRule;
    // A candidate's own runs with several seeds count towards the noise it is judged by (a pooled t test).
    const runs = evaluation.runs?.metrics ?? [];
    const noise = runs.length > 1 ? addMeasurement(this.s.noise, -1, runs) : this.s.noise;
    const status = decideStatus(evaluation, best, this.direction, rule, noise);
    const why = verdict(status, evaluation, best, this.direction, rule, noise);
    return why === undefined ? { status } : { status, verdict: why };
  }

  /** Whether this candidate, scored once, trains again with other seeds before it is decided. */
  needsConfirmation(evaluation: Evaluation): boolean {
    return needsConfirmation(evaluation, this.s.best, this.direction, this.opts.keepRule, this.s.noise);
  }

  /**
   * Fold a decided experiment into the state, once per claimed number (in any order when several run
   * at once): a keep becomes the best at once, so the next decision compares against it.
   */
  finish(record: ExperimentRecord): void {
    if (record.n >= this.s.nextExperiment)
      throw new Error(`experiment ${record.n} finished but only ${this.s.nextExperiment} were claimed`);
    this.s.counts[record.status] += 1;
    // A cancelled experiment did not try its idea: it goes back first in line.
    if (record.status === 'cancelled') this.returnIdea(record.idea);
    if (record.cost) this.s.spend = addCost(this.s.spend, record.cost);
    if (record.status === 'keep' && record.metric !== undefined) {
      const runs = record.runs?.metrics.length ?? 1;
      this.s.best = {
        n: record.n,
        commit: record.commit,
        metric: record.metric,
        ...(runs > 1 ? { runs } : {}),
      };
      if (record.n === 0) this.s.baselineMetric = record.metric;
    }
    this.s.noise = noiseAfter(this.s.noise, record);
    // The log tail is for the next proposal only; it lives in the record file, not in the state.
    const { logTail: _logTail, ...kept } = record;
    this.s.recent.push(kept);
    if (this.s.recent.length > RECENT_RECORDS) this.s.recent.splice(0, this.s.recent.length - RECENT_RECORDS);
    this.finishedThisExecution += 1;
  }

  status(): RunStatus {
    const p = this.s.prepared;
    return {
      tag: this.options.tag,
      phase: this.phase,
      currentExperiment: this.lead?.n ?? null,
      currentDescription: this.lead?.description ?? null,
      inFlight: this.inFlight,
      best: this.s.best,
      baselineMetric: this.s.baselineMetric,
      noise: this.s.noise,
      keepRule: this.opts.keepRule ?? null,
      ...(p ? { noiseBy: noiseByOf(this.opts, p.config.train) ?? null } : {}),
      metricName: p?.config.metric.name ?? null,
      direction: p?.config.metric.direction ?? null,
      experimentsDone: this.experimentsDone,
      counts: { ...this.s.counts },
      recent: [...this.s.recent],
      paused: this.s.paused,
      pausedReason: this.s.pausedReason,
      stopRequested: this.s.stopRequested,
      notes: [...this.s.notes],
      queue: this.queue,
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
