// How experiments share the slots. Up to `parallel` experiments are in flight, each on its own slot;
// with pipelining the next proposal is made while the slot trains, so a slot goes from one training to
// the next without waiting for the proposer. A proposal made on a best that has moved since is rebased
// onto the new best before it trains (proposed again if its edit no longer applies), and every decision
// compares against the best at the moment it is made.
// With parallel 1 and no pipelining this is program.md's loop, one step after the other, issuing the
// same commands as the loop always did (recorded histories replay against it).
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { ControlActivities, TrainActivities } from '../activities';
import { BEST_METRIC, EXPERIMENTS, KEPT, PHASE, STATUS } from '../common/searchAttributes';
import { trainStepSeconds } from '../common/trainBound';
import type {
  Candidate,
  Evaluation,
  ExperimentRecord,
  NoiseBy,
  Phase,
  RunOptions,
  TargetConfig,
  TrainingOutcome,
} from '../common/types';
import { currentDetails } from './details';
import { moreRuns, noiseByOf, runsWord, seedRuns } from './keepRule';
import { experimentRecord, type RunState } from './runState';

// Control steps touch only git and small files: short timeouts, retried on infrastructure errors.
// A TargetError is the target's fault (bad config, dirty tree ...): retrying cannot fix it.
const controlDefaults: ActivityOptions = {
  startToCloseTimeout: '5 minutes',
  retry: {
    initialInterval: '1 second',
    maximumInterval: '30 seconds',
    nonRetryableErrorTypes: ['TargetError'],
  },
};
export const control = proxyActivities<ControlActivities>(controlDefaults);

/**
 * A worker killed in the middle of a control step is noticed, like one killed while training, when its
 * heartbeats stop (the control activities heartbeat while they run), not only when the 5 minutes of the
 * start-to-close timeout are up: the step is retried on another worker within seconds.
 */
export function controlOptions(options: RunOptions, summary: string): ActivityOptions {
  return { ...controlDefaults, heartbeatTimeout: `${options.heartbeatTimeoutSeconds} seconds`, summary };
}

/**
 * The proposal step: a coding agent or an API call may take longer than a control step's 5 minutes,
 * so its bound is the proposer's own (pinned at start; older runs keep the 5 minutes and replay). On
 * `pause --now` the experiment is recorded as cancelled only once the agent's process group is gone.
 */
function proposeOptions(options: RunOptions, summary: string): ActivityOptions {
  const base = controlOptions(options, summary);
  if (options.proposeTimeoutSeconds === undefined) return base;
  return {
    ...base,
    startToCloseTimeout: `${options.proposeTimeoutSeconds} seconds`,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  };
}

function trainOptions(options: RunOptions, config: TargetConfig): ActivityOptions {
  // Each part's own timeout (set-up, training, evaluation, fetch) ends it first; this bound only catches
  // a worker that hangs itself. Runs started before the bound covered every part keep theirs.
  const seconds =
    options.trainStepBound === 'all-parts'
      ? trainStepSeconds(config, options.remote !== undefined)
      : config.train.timeoutSeconds + 30 * 60;
  return {
    taskQueue: options.trainTaskQueue,
    startToCloseTimeout: `${seconds} seconds`,
    // A dead worker is noticed only through missed heartbeats; its experiment is then retried elsewhere.
    heartbeatTimeout: `${options.heartbeatTimeoutSeconds} seconds`,
    // On `pause --now`, record the experiment as cancelled only once its process group is gone,
    // so the GPU is free when the run resumes.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
  };
}

/** A claimed experiment number and its proposal, made now or ahead of a free slot. */
interface Proposal {
  n: number;
  idea?: string;
  /** Everything the experiment does runs in here: `pause --now` cancels it. */
  scope: CancellationScope;
  /** null: the run ended while the proposer waited for a person (it had refused). */
  result: Promise<Candidate | null>;
}

export type SchedulerEnd = 'finished' | 'continue-as-new';

/** patched(): a record that fails pauses the run (before, it failed the run or its workflow tasks). */
const RECORD_FAILURE_PAUSES = 'record-failure-pauses';

export class Scheduler {
  readonly parallel: number;
  readonly pipelined: boolean;
  /** Proposals made ahead, in number order: the next free slot takes the first. */
  private ready: Proposal[] = [];
  /** Experiments a slot has taken (proposal included): what `pause --now` cancels. */
  private taken = new Map<number, Proposal>();
  /** Records are written one after another: the branch moves by compare-and-swap, in decision order. */
  private recording: Promise<void> = Promise.resolve();
  /** Set once the history is long enough: no new experiment starts, and the run continues as new. */
  private draining = false;
  /** The phase and label last written to the search attributes (one upsert per change). */
  private shown: string | null = null;

  constructor(
    private readonly state: RunState,
    private readonly root: CancellationScope,
  ) {
    const options = state.options;
    // Runs started before these options existed keep the one-at-a-time loop they were recorded with.
    this.parallel = Math.max(1, options.parallel ?? 1);
    this.pipelined = options.pipeline ?? false;
    for (const candidate of state.takeReady()) this.ready.push(this.made(candidate));
  }

  /** `pause --now`: cancel every experiment a slot has taken (proposals made ahead wait for resume). */
  cancelInFlight(): void {
    for (const p of this.taken.values()) p.scope.cancel();
  }

  /**
   * An idea was queued: it goes first. With pipelining its proposal starts now and trains before the
   * proposals made ahead of it; otherwise the next proposal takes it.
   */
  ideaQueued(): void {
    if (!this.pipelined || !this.mayPropose) return;
    const proposal = this.propose();
    if (proposal) this.ready.unshift(proposal);
  }

  /** Shows what the run does now: the UI's current details, and the search attributes when they change. */
  show(headline?: string): void {
    const state = this.state;
    setCurrentDetails(currentDetails(state, headline ?? this.headline()));
    const key = `${state.phase}/${state.label}`;
    if (!state.options.searchAttributes || key === this.shown) return;
    this.shown = key;
    upsertSearchAttributes([
      { key: PHASE, value: state.phase },
      { key: STATUS, value: state.label },
    ]);
  }

  /** The run's own phase (preparing, paused, stopped ...), shown while no experiment is in flight. */
  showRun(phase: Phase, headline: string): void {
    this.state.enterPhase(phase, Date.now());
    this.show(headline);
  }

  /** Runs experiments until the run is finished, or until it should continue as new. */
  async run(): Promise<SchedulerEnd> {
    const state = this.state;
    while (this.moreToRun && !this.draining) {
      if (state.experimentsDone === 0) {
        // The baseline runs alone: nothing can be decided before it is scored.
        if (await this.runnable()) await this.runBaseline();
        continue;
      }
      await Promise.all(Array.from({ length: this.parallel }, () => this.slot()));
    }
    await this.recording;
    if (!this.moreToRun) {
      await this.dropReady();
      return 'finished';
    }
    // Proposals made ahead carry over: the next execution trains them first.
    const carried: Candidate[] = [];
    for (const p of this.ready.splice(0)) {
      const candidate = await p.result;
      if (candidate) carried.push(candidate);
      else await this.abandon(p, null);
    }
    await this.recording;
    state.setReady(carried);
    return 'continue-as-new';
  }

  /** One slot: take the next proposal (or make one), train it, decide; again until the run ends. */
  private async slot(): Promise<void> {
    while (await this.runnable()) {
      const proposal = this.ready.shift() ?? this.propose();
      if (!proposal) return;
      await this.runExperiment(proposal);
    }
  }

  /** Waits while the run is paused; false once no experiment should start (finished, or continuing as new). */
  private async runnable(): Promise<boolean> {
    const state = this.state;
    while (state.paused && this.moreToRun && !this.draining) {
      this.showPaused();
      await condition(() => !state.paused || state.stopRequested || this.draining);
    }
    return this.moreToRun && !this.draining;
  }

  /** An experiment may start: numbers are left to claim, or proposals made ahead wait for a slot. */
  private get moreToRun(): boolean {
    return !this.state.endRequested && (this.ready.length > 0 || !this.state.finished);
  }

  private showPaused(): void {
    const state = this.state;
    this.showRun(
      'paused',
      `${state.pausedReason ? `Paused: ${state.pausedReason}` : `Paused after ${state.experimentsDone} experiments`}; ` +
        'signal "resume" to continue',
    );
  }

  /** A proposal may start: the baseline has its number (0) and the run is neither paused nor ending. */
  private get mayPropose(): boolean {
    const state = this.state;
    return state.nextExperiment > 0 && !state.paused && !state.finished && !this.draining;
  }

  /** Claims the next number and starts its proposal, on the best as it is now; null if none may start. */
  private propose(): Proposal | null {
    if (!this.mayPropose) return null;
    const n = this.state.claim();
    const idea = this.state.takeIdea();
    const scope = new CancellationScope({ cancellable: true, parent: this.root });
    const result = scope.run(() => this.proposeUntilAnswered(n, idea));
    // Awaited later (by a slot, or when the run ends); a failure is handled there, not as unhandled.
    result.catch(() => undefined);
    return { n, ...(idea !== undefined ? { idea } : {}), scope, result };
  }

  /** A proposal carried over from the previous execution. */
  private made(candidate: Candidate): Proposal {
    return {
      n: candidate.n,
      ...(candidate.idea !== undefined ? { idea: candidate.idea } : {}),
      scope: new CancellationScope({ cancellable: true, parent: this.root }),
      result: Promise.resolve(candidate),
    };
  }

  /** With pipelining: proposals for the slots that are training, ready when each of them is free. */
  private proposeAhead(): void {
    if (!this.pipelined) return;
    while (this.ready.length < this.parallel) {
      const proposal = this.propose();
      if (!proposal) return;
      this.ready.push(proposal);
    }
  }

  /**
   * Asks the proposer; when it refuses for a reason a person must fix (a bad API key, an unknown model),
   * the run pauses and says why, and `resume` asks again for the same number. Null: stopped meanwhile.
   */
  private async proposeUntilAnswered(
    n: number,
    claimedIdea: string | undefined,
    round = 0,
  ): Promise<Candidate | null> {
    const { state } = this;
    const options = state.options;
    const prepared = state.prepared!;
    let idea = claimedIdea;
    for (;;) {
      state.track(n, 'proposing', Date.now(), idea !== undefined ? `queued idea: ${idea}` : null);
      this.show();
      try {
        const candidate = await control.proposeCandidate.executeWithOptions(
          proposeOptions(options, `exp ${n} propose (${options.proposer})`),
          [
            {
              repo: options.repo,
              tag: options.tag,
              n,
              parent: state.parentCommit,
              ...(options.remote ? { remote: options.remote } : {}),
              proposer: options.proposer,
              seed: options.seed,
              config: prepared.config,
              notes: [...state.notes],
              ...(idea !== undefined ? { idea } : {}),
              ...(round ? { round } : {}),
              runDir: prepared.runDir,
              claude: options.claude,
              command: options.command,
            },
          ],
        );
        // Made ahead, it waits for a slot; the run's phase is about the experiments doing something.
        state.track(n, 'ready', Date.now(), candidate.description);
        return idea !== undefined ? { ...candidate, idea } : candidate;
      } catch (err) {
        if (
          !(err instanceof ActivityFailure) ||
          !(err.cause instanceof ApplicationFailure) ||
          err.cause.type !== 'ProposerRefused'
        )
          throw err;
        state.settled(n);
        state.pause(err.cause.message);
        this.showPaused();
        await condition(() => !state.paused || state.stopRequested);
        if (state.stopRequested) {
          if (idea !== claimedIdea) state.returnIdea(idea);
          return null;
        }
        // What a person queued while the run waited is the way out (e.g. a value for `mutate` to try).
        idea ??= state.takeIdea();
      }
    }
  }

  /** The baseline: the target as it is, trained and scored like any candidate. */
  private async runBaseline(): Promise<void> {
    const state = this.state;
    const prepared = state.prepared!;
    // A baseline cancelled by `pause --now` keeps its number and runs again on resume.
    const n = state.nextExperiment === 0 ? state.claim() : 0;
    const baseline: Candidate = {
      n,
      parent: prepared.baseCommit,
      commit: prepared.baseCommit,
      description: 'baseline',
    };
    await this.runExperiment(this.made(baseline));
  }

  /** Propose (or take the proposal made ahead), rebase if the best moved, train, evaluate, decide. */
  private async runExperiment(p: Proposal): Promise<void> {
    const { state } = this;
    const options = state.options;
    const prepared = state.prepared!;
    const config = prepared.config;
    const n = p.n;
    const startedAt = Date.now();
    let candidate: Candidate | null | undefined;
    let outcome: TrainingOutcome | undefined;
    let evaluation: Evaluation;
    this.taken.set(n, p);
    try {
      candidate = await p.scope.run(async () => this.freshen(p, await p.result));
      if (!candidate) return await this.abandon(p, null);
      this.proposeAhead();
      // An invalid proposal trains nothing; a slot that failed every attempt is a crash; otherwise score it.
      if (candidate.invalid) {
        evaluation = { status: 'invalid', reason: candidate.invalid };
      } else {
        const trainee = candidate;
        state.track(n, 'training', Date.now(), trainee.description);
        this.show();
        const trained = await p.scope.run(() => train(options, config, trainee));
        state.track(n, 'evaluating', Date.now());
        this.show();
        if ('failure' in trained) {
          evaluation = { status: 'crash', reason: trained.failure };
        } else {
          outcome = trained;
          const first = await p.scope.run(() => this.evaluate(trainee, trained));
          evaluation =
            n === 0
              ? await p.scope.run(() => this.measureNoise(trainee, first))
              : state.needsConfirmation(first)
                ? await p.scope.run(() => this.confirm(trainee, first))
                : first;
        }
      }
    } catch (err) {
      if (!(p.scope.consideredCancelled && isCancellation(err))) throw err;
      if (n === 0) {
        // Without a baseline nothing can be compared: it runs again on resume rather than being recorded.
        state.settled(n);
        return;
      }
      evaluation = { status: 'cancelled', reason: 'cancelled by pause --now' };
      candidate ??= {
        n,
        parent: state.parentCommit,
        commit: state.parentCommit,
        description: 'cancelled while proposing',
        ...(p.idea !== undefined ? { idea: p.idea } : {}),
      };
    } finally {
      this.taken.delete(n);
    }

    const record = this.decide(candidate, evaluation, outcome, startedAt);
    const recorded = this.record(record);
    // One step after the other unless pipelined: the record is written before anything else starts.
    // Pipelined, a failure surfaces where the run awaits the last record (never as an unhandled one).
    if (!this.pipelined || n === 0) await recorded;
    else recorded.catch(() => undefined);
    if (n === 0 && record.status !== 'keep') {
      // A set-up too slow for its timeout is not the target's fault: the reason says how to give it longer.
      const fix =
        outcome?.setupFailed && outcome.timedOut
          ? 'Give the set-up longer and start a new run'
          : `Fix the target so that \`${config.train.command}\` trains and prints "${config.metric.name}: <value>"`;
      throw ApplicationFailure.nonRetryable(
        `The baseline did not produce a valid ${config.metric.name} (${record.status}: ${evaluation.reason ?? 'no reason given'}). ` +
          `${fix}; log: ${outcome?.logPath ?? 'none'}`,
        'BaselineFailed',
      );
    }
    if (this.moreToRun && this.continueAsNewDue()) this.draining = true;
  }

  private evaluate(candidate: Candidate, outcome: TrainingOutcome, again?: Again): Promise<Evaluation> {
    const options = this.state.options;
    const prepared = this.state.prepared!;
    return control.evaluateCandidate.executeWithOptions(
      controlOptions(
        options,
        `exp ${candidate.n} evaluate${again === undefined ? '' : ` (${againText(again)})`}`,
      ),
      [
        {
          repo: options.repo,
          commit: candidate.commit,
          config: prepared.config,
          frozenBlobs: prepared.frozenBlobs,
          outcome,
        },
      ],
    );
  }

  /**
   * With noise runs, the baseline trains again with seeds 1, 2 ... (at once, on as many slots as there
   * are): its metric becomes the mean, and their spread the run's first noise estimate. A target that
   * does not say how to set its seed repeats the identical run instead (runs started with
   * repeatUnseeded; before it, such a target trained once).
   */
  private async measureNoise(baseline: Candidate, first: Evaluation): Promise<Evaluation> {
    const { state } = this;
    const runs = state.options.noiseRuns ?? 1;
    const by = this.noiseBy;
    if (runs < 2 || !by || first.status !== 'ok' || first.metric === undefined) return first;
    // A failed noise run only leaves fewer runs to measure with; a candidate's would discard it.
    const { failedRuns: _failed, ...measured } = await this.trainSeeds(
      baseline,
      first,
      runs - 1,
      `baseline, ${runs - 1} more ${runsWord(by)} to measure the noise`,
    );
    return measured;
  }

  /**
   * Under the noise-aware rule, a candidate whose gain the noise could explain trains again with seeds
   * 1, 2 ... (the seeds the baseline's noise runs used), or repeats as often; its mean over all runs is
   * then decided.
   */
  private async confirm(candidate: Candidate, first: Evaluation): Promise<Evaluation> {
    const { state } = this;
    const more = state.options.keepRule?.confirmRuns ?? 0;
    const by = this.noiseBy;
    if (more < 1 || !by) return first;
    const doing = `${candidate.description} (confirming with ${moreRuns(more, by)})`;
    return this.trainSeeds(candidate, first, more, doing);
  }

  /** How an experiment trains again: other seeds, repeats of the identical run, or not at all (null). */
  private get noiseBy(): NoiseBy | null {
    return noiseByOf(this.state.options, this.state.prepared!.config.train) ?? null;
  }

  /**
   * Trains and scores `more` runs with seeds 1..more (or repeats 1..more) at once (shown as `doing`);
   * the metric becomes the mean of them all.
   */
  private async trainSeeds(
    candidate: Candidate,
    first: Evaluation,
    more: number,
    doing: string,
  ): Promise<Evaluation> {
    const { state } = this;
    const { options } = state;
    const config = state.prepared!.config;
    state.track(candidate.n, 'training', Date.now(), doing);
    this.show();
    const by = this.noiseBy ?? 'seed';
    const agains: Again[] = Array.from({ length: more }, (_, k) =>
      by === 'repeat' ? { repeat: k + 1 } : { seed: k + 1 },
    );
    const results = await Promise.all(
      agains.map(async (again) => {
        const trained = await train(options, config, candidate, again);
        if ('failure' in trained) return { seconds: 0, failed: `${againText(again)}: ${trained.failure}` };
        const evaluation = await this.evaluate(candidate, trained, again);
        return evaluation.status === 'ok' && evaluation.metric !== undefined
          ? { seconds: trained.trainSeconds, metric: evaluation.metric }
          : {
              seconds: trained.trainSeconds,
              failed: `${againText(again)}: ${evaluation.status}${evaluation.reason ? ` (${evaluation.reason})` : ''}`,
            };
      }),
    );
    const metrics = [first.metric!, ...results.flatMap((r) => (r.metric === undefined ? [] : [r.metric]))];
    const failedRuns = results.flatMap((r) => (r.failed === undefined ? [] : [r.failed]));
    const { mean, runs: measured } = seedRuns(metrics, options.keepRule?.identicalRunsExact);
    const runs = by === 'repeat' ? { ...measured, by } : measured;
    const moreTrainSeconds = results.reduce((a, r) => a + r.seconds, 0);
    return { ...first, metric: mean, runs, moreTrainSeconds, ...(failedRuns.length ? { failedRuns } : {}) };
  }

  /**
   * A proposal made on an older best is replayed onto the best as it is now; when its edit no longer
   * applies there, the proposer is asked again on the new best.
   */
  private async freshen(p: Proposal, proposed: Candidate | null): Promise<Candidate | null> {
    const { state } = this;
    const options = state.options;
    let candidate = proposed;
    for (let round = 1; candidate && !candidate.invalid && candidate.parent !== state.parentCommit; round++) {
      const onto = state.parentCommit;
      const rebased = await control.rebaseCandidate.executeWithOptions(
        controlOptions(options, `exp ${p.n} rebase onto exp ${state.best?.n ?? 0}`),
        [
          {
            repo: options.repo,
            tag: options.tag,
            n: p.n,
            commit: candidate.commit,
            parent: candidate.parent,
            onto,
            ...(options.remote ? { remote: options.remote } : {}),
          },
        ],
      );
      if ('commit' in rebased) return { ...candidate, parent: onto, commit: rebased.commit };
      candidate = await this.proposeUntilAnswered(p.n, p.idea, round);
    }
    return candidate;
  }

  /** The decision, against the best at this moment; a keep becomes the best at once. */
  private decide(
    candidate: Candidate,
    evaluation: Evaluation,
    outcome: TrainingOutcome | undefined,
    startedAt: number,
  ): ExperimentRecord {
    const decision = this.state.decide(evaluation);
    return experimentRecord(candidate, evaluation, decision, outcome, startedAt, Date.now());
  }

  /** Folds the decision into the state now, and writes it out after the records decided before it. */
  private record(record: ExperimentRecord): Promise<void> {
    const { state } = this;
    const options = state.options;
    const prepared = state.prepared!;
    const previousBest = state.parentCommit;
    state.finish(record);
    state.track(record.n, 'recording', Date.now(), `${record.status}: ${record.description}`);
    this.show();
    const writeOnce = () =>
      control.recordExperiment.executeWithOptions(
        controlOptions(options, `exp ${record.n} record: ${record.status}`),
        [
          {
            repo: options.repo,
            tag: options.tag,
            runDir: prepared.runDir,
            branch: prepared.branch,
            record,
            previousBest,
            ...(options.remote ? { remote: options.remote } : {}),
            chart: {
              metricName: prepared.config.metric.name,
              direction: prepared.config.metric.direction,
              title: `autoresearch ${options.tag}`,
            },
          },
        ],
      );
    const write = async () => {
      await this.untilWritten(record.n, writeOnce);
      state.settled(record.n);
      if (options.searchAttributes) {
        upsertSearchAttributes([
          { key: EXPERIMENTS, value: state.experimentsDone },
          { key: KEPT, value: state.kept },
        ]);
        if (state.best) upsertSearchAttributes([{ key: BEST_METRIC, value: state.best.metric }]);
      }
    };
    this.recording = this.recording.then(write);
    return this.recording;
  }

  /**
   * A record the step could not write (a TargetError: the branch was moved by someone else, the run
   * directory is not writable ...) pauses the run with the step's own message; `resume` tries again,
   * and the records decided after it wait for it, so they are written in order. A run stopped meanwhile
   * tries once more, then fails with the reason rather than end with a record unwritten.
   */
  private async untilWritten(n: number, writeOnce: () => Promise<void>): Promise<void> {
    const { state } = this;
    for (;;) {
      try {
        return await writeOnce();
      } catch (err) {
        // Runs recorded before this fails the workflow task (pipelined) or the run (one step at a time).
        if (isCancellation(err) || !(err instanceof ActivityFailure) || !patched(RECORD_FAILURE_PAUSES))
          throw err;
        const reason = `experiment ${n}'s record could not be written: ${err.cause?.message ?? err.message}`;
        if (state.stopRequested)
          throw ApplicationFailure.nonRetryable(`The run stopped, but ${reason}`, 'RecordFailed');
        state.pause(reason);
        this.showPaused();
        await condition(() => !state.paused || state.stopRequested);
      }
    }
  }

  /**
   * A claimed number whose experiment never trained because the run ended first. Given back when it is
   * the last one claimed (proposals made ahead always are), its proposal's cost still counted and its
   * idea back in the queue (its candidate ref stays, unrecorded); otherwise recorded as cancelled, so
   * every number still appears exactly once.
   */
  private async abandon(p: Proposal, candidate: Candidate | null): Promise<void> {
    const { state } = this;
    if (p.n === state.nextExperiment - 1) {
      state.addSpend(candidate?.cost);
      state.unclaim(p.n);
      state.returnIdea(candidate ? candidate.idea : p.idea);
      return;
    }
    const reason = state.stopRequested ? 'the run stopped' : 'the run ended';
    const record = this.decide(
      candidate ?? {
        n: p.n,
        parent: state.parentCommit,
        commit: state.parentCommit,
        description: 'not proposed',
        ...(p.idea !== undefined ? { idea: p.idea } : {}),
      },
      { status: 'cancelled', reason: `not trained: ${reason} first` },
      undefined,
      Date.now(),
    );
    await this.record(record);
  }

  /** Proposals made ahead when the run ends: nothing trains them, so their numbers are given back. */
  private async dropReady(): Promise<void> {
    const proposals = this.ready.splice(0);
    for (const p of proposals) p.scope.cancel();
    // The last claimed first: each is then the last one when its number is given back.
    for (const p of proposals.sort((a, b) => b.n - a.n)) {
      const candidate = await p.result.catch((err: unknown) => {
        if (isCancellation(err)) return null;
        throw err;
      });
      await this.abandon(p, candidate);
    }
  }

  private continueAsNewDue(): boolean {
    return (
      workflowInfo().continueAsNewSuggested ||
      this.state.finishedThisExecution >= this.state.options.experimentsPerRun
    );
  }

  /** What the UI's current details lead with: the experiment(s) in flight, or the run's own phase. */
  private headline(): string {
    const state = this.state;
    const lines = state.inFlight.map(
      (a) => `Experiment ${a.n} ${a.phase}${a.description ? `: ${a.description}` : ''}`,
    );
    if (lines.length === 1) return lines[0]!;
    if (lines.length > 1) return `${lines.length} experiments in flight: ${lines.join('; ')}`;
    return `Run ${state.phase}`;
  }
}

/** A training of an experiment again: with another seed, or the identical run repeated. */
type Again = { seed: number } | { repeat: number };

function againText(again: Again): string {
  return 'seed' in again ? `seed ${again.seed}` : `repeat ${again.repeat}`;
}

/**
 * Trains a candidate on the GPU queue. If every attempt fails (the slot itself is broken, not the
 * script: a script's crash is a normal outcome), the experiment is recorded as a crash and the run goes
 * on, rather than a whole night's run failing on one bad worker.
 */
async function train(
  options: RunOptions,
  config: TargetConfig,
  candidate: Candidate,
  again?: Again,
): Promise<TrainingOutcome | { failure: string }> {
  const activityOptions = trainOptions(options, config);
  try {
    return await proxyActivities<TrainActivities>(activityOptions).trainCandidate.executeWithOptions(
      {
        ...activityOptions,
        summary: `exp ${candidate.n} train: ${candidate.description}${again === undefined ? '' : ` (${againText(again)})`}`,
      },
      [
        {
          repo: options.repo,
          tag: options.tag,
          n: candidate.n,
          commit: candidate.commit,
          config,
          ...(options.remote ? { remote: options.remote } : {}),
          ...again,
        },
      ],
    );
  } catch (err) {
    if (isCancellation(err) || !(err instanceof ActivityFailure)) throw err;
    return { failure: `training failed on the worker after retries: ${err.cause?.message ?? err.message}` };
  }
}
