// The run's state and its keep decision, in plain code so they can be unit-tested without Temporal.
// The workflow owns one RunState, feeds it results, and carries its snapshot across continue-as-new.
// Beside it: what the run is doing now (progress.ts), what a person sent it (operatorInput.ts), and
// what it answers (projections.ts).
import type {
  BestResult,
  Candidate,
  Evaluation,
  ExperimentRecord,
  ExperimentStatus,
  LimitsChange,
  NoiseEstimate,
  Phase,
  PreparedRun,
  ProposalCost,
  RunOptions,
  RunStatus,
  RunSummary,
  TargetConfig,
} from '../common/types';
import { addCost, noSpend, totalTokens } from '../proposers/pricing';
import { snapshotNoise, withSnapshotDefaults } from './compat';
import { addMeasurement, decideStatus, gain, needsConfirmation, noiseAfter, verdict } from './keepRule';
import { OperatorInput, withLimits, type InputContext } from './operatorInput';
import { Progress } from './progress';
import { emptyCounts, RECENT_RECORDS, runStatus, runSummary, type RunPlace } from './projections';

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

/** What a person filters the run list by (the AutoresearchStatus search attribute). */
export type RunLabel = 'running' | 'paused' | 'stopping' | 'finished' | 'stopped';

function freshSnapshot(): RunSnapshot {
  return {
    prepared: null,
    nextExperiment: 0,
    best: null,
    baselineMetric: null,
    noise: null,
    counts: emptyCounts(),
    recent: [],
    notes: [],
    queue: [],
    paused: false,
    pausedReason: null,
    stopRequested: false,
    spend: noSpend(),
    ready: [],
  };
}

export class RunState {
  /** What the run is doing now (shown, never carried over). */
  readonly progress = new Progress();
  /** The operator's notes and queued ideas (kept in the snapshot). */
  readonly input: OperatorInput;
  /** Experiments finished by this workflow execution (resets on continue-as-new). */
  finishedThisExecution = 0;

  private constructor(
    private opts: RunOptions,
    private s: RunSnapshot,
  ) {
    this.input = new OperatorInput(s);
  }

  static start(options: RunOptions, snapshot?: Partial<RunSnapshot>): RunState {
    const s = withSnapshotDefaults(freshSnapshot(), snapshot);
    s.noise = snapshotNoise(snapshot?.noise, (metrics) => addMeasurement(null, 0, metrics));
    return new RunState(options, s);
  }

  /**
   * The status of a run that has ended, read without a worker: its records (in number order) folded by
   * the same code as a live run's, its notes and spend from its summary (a failed run has none).
   */
  static endedRunStatus(
    options: RunOptions,
    records: readonly ExperimentRecord[],
    ended: RunPlace & { phase: Phase; summary: RunSummary | null },
  ): RunStatus {
    const { config, runDir, branch, summary } = ended;
    const state = RunState.start(options, {
      nextExperiment: records.reduce((next, r) => Math.max(next, r.n + 1), 0),
      // The fold compares keeps in the target's direction.
      prepared: config && runDir && branch ? endedPrepared(config, runDir, branch, records) : null,
      ...(summary ? { notes: [...summary.notes], spend: summary.spend } : {}),
    });
    for (const r of records) state.fold(r);
    state.progress.enterPhase(ended.phase, null);
    return runStatus(state, { config, runDir, branch });
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
  setPrepared(prepared: PreparedRun): void {
    this.s.prepared = prepared;
  }
  get nextExperiment(): number {
    return this.s.nextExperiment;
  }
  get best(): BestResult | null {
    return this.s.best;
  }
  get baselineMetric(): number | null {
    return this.s.baselineMetric;
  }
  get noise(): NoiseEstimate | null {
    return this.s.noise;
  }
  get counts(): Record<ExperimentStatus, number> {
    return { ...this.s.counts };
  }
  get recent(): ExperimentRecord[] {
    return [...this.s.recent];
  }
  get spend(): ProposalCost {
    return { ...this.s.spend };
  }
  /** Experiments kept so far (the AutoresearchKept column), without building the whole status. */
  get kept(): number {
    return this.s.counts.keep;
  }
  get experimentsDone(): number {
    return Object.values(this.s.counts).reduce((a, b) => a + b, 0);
  }

  /** Proposals made ahead and carried over from the previous execution (taken once). */
  takeReady(): Candidate[] {
    return this.s.ready.splice(0);
  }
  /** Carried over to the next execution by continue-as-new. */
  setReady(candidates: Candidate[]): void {
    this.s.ready = candidates;
  }

  // The operator's controls, as flags: the predicates below and the slots read them.

  /** `pause` (or the run paused itself, with a reason): no new experiment starts until `resume`. */
  get paused(): boolean {
    return this.s.paused;
  }
  get pausedReason(): string | null {
    return this.s.pausedReason;
  }
  /** `stop`: the experiments in flight finish, then the run ends. */
  get stopRequested(): boolean {
    return this.s.stopRequested;
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

  // The run's predicates (the slots add theirs: slots.ts).

  /** The run ends once the experiments in flight are done: stopped, spent, or past its deadline. */
  get mustEnd(): boolean {
    return this.s.stopRequested || this.spendLimitReached || this.deadlinePassed;
  }
  /** A new experiment number may be handed out: the run need not end and max experiments is not reached. */
  get mayClaimNumber(): boolean {
    if (this.mustEnd) return false;
    const max = this.opts.maxExperiments;
    return max === undefined || this.s.nextExperiment <= max;
  }
  /** The proposals have cost what the run may spend. */
  get spendLimitReached(): boolean {
    const { maxDollars, maxTokens } = this.options;
    const spend = this.s.spend;
    return (
      (maxDollars !== undefined && spend.dollars >= maxDollars) ||
      (maxTokens !== undefined && totalTokens(spend) >= maxTokens)
    );
  }
  /** The deadline has passed (workflow time in the workflow, so deterministic). */
  get deadlinePassed(): boolean {
    return this.opts.deadline !== undefined && Date.now() >= Date.parse(this.opts.deadline);
  }

  get label(): RunLabel {
    const phase = this.progress.phase;
    if (phase === 'finished') return 'finished';
    if (phase === 'stopped') return 'stopped';
    if (this.s.stopRequested) return 'stopping';
    return this.s.paused ? 'paused' : 'running';
  }

  /** What the operator-input validators need to know about the run. */
  get inputContext(): InputContext {
    return {
      ending: this.s.stopRequested || this.progress.ended,
      proposer: this.opts.proposer,
      claimed: this.s.nextExperiment,
    };
  }
  /** New limits (checked by operatorInput's checkLimits first). */
  setLimits(change: LimitsChange): void {
    this.opts = withLimits(this.opts, change);
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
    this.progress.forget(n);
  }

  /** What a proposal cost that never became an experiment (made ahead, the run ended first). */
  addSpend(cost: ProposalCost | undefined): void {
    if (cost) this.s.spend = addCost(this.s.spend, cost);
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
    this.fold(record);
    // A cancelled experiment did not try its idea: it goes back first in line.
    if (record.status === 'cancelled') this.input.returnIdea(record.idea);
    if (record.cost) this.s.spend = addCost(this.s.spend, record.cost);
    this.finishedThisExecution += 1;
  }

  /**
   * What a record adds to the run's results: its count, the best, the noise, the recent list. A live
   * run folds each record as it is decided; a finished run's status folds its record files the same way.
   */
  fold(record: ExperimentRecord): void {
    this.s.counts[record.status] += 1;
    // Every keep beat the best of its moment, so in decision order each keep is the best; records read
    // back in number order (several slots decide in any order) need the comparison.
    const best = this.s.best;
    if (
      record.status === 'keep' &&
      record.metric !== undefined &&
      (!best || gain(record.metric, best.metric, this.direction) > 0)
    ) {
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
  }

  status(): RunStatus {
    return runStatus(this);
  }
  summary(): RunSummary {
    return runSummary(this);
  }
}

/** An ended run's target as the fold needs it (its frozen files are not checked again). */
function endedPrepared(
  config: TargetConfig,
  runDir: string,
  branch: string,
  records: readonly ExperimentRecord[],
): PreparedRun {
  return { config, runDir, branch, baseCommit: records[0]?.commit ?? '', frozenBlobs: {} };
}
