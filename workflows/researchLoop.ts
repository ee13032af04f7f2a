// The research loop, as program.md tells it: run the baseline; then forever propose an edit to the
// best code so far, train it for the fixed budget, score it, keep it if strictly better, else discard.
// Deterministic: every side effect is an activity; the state and its rules live in RunState.
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  allHandlersFinished,
  condition,
  continueAsNew,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { ControlActivities, TrainActivities } from '../activities';
import { BEST_METRIC, EXPERIMENTS, KEPT, PHASE, STATUS, TAG, TARGET } from '../lib/searchAttributes';
import type {
  Candidate,
  Evaluation,
  ExperimentRecord,
  Phase,
  RunOptions,
  RunSummary,
  TargetConfig,
  TrainingOutcome,
} from '../lib/types';
import { currentDetails } from './details';
import {
  limitsUpdate,
  pauseSignal,
  queueUpdate,
  redirectUpdate,
  resumeSignal,
  statusQuery,
  stopSignal,
  type PauseOptions,
} from './messages';
import { RunState, targetName, type RunSnapshot } from './runState';

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
const control = proxyActivities<ControlActivities>(controlDefaults);

/**
 * A worker killed in the middle of a control step is noticed, like one killed while training, when its
 * heartbeats stop (the control activities heartbeat while they run), not only when the 5 minutes of the
 * start-to-close timeout are up: the step is retried on another worker within seconds.
 */
function controlOptions(options: RunOptions, summary: string): ActivityOptions {
  return { ...controlDefaults, heartbeatTimeout: `${options.heartbeatTimeoutSeconds} seconds`, summary };
}

function trainOptions(options: RunOptions, timeoutSeconds: number): ActivityOptions {
  return {
    taskQueue: options.trainTaskQueue,
    // The script's own hard timeout kills it first; this bound only catches a worker that hangs itself.
    // Slot setup (uv sync, data preparation) can add a few minutes on a fresh slot.
    startToCloseTimeout: `${timeoutSeconds + 30 * 60} seconds`,
    // A dead worker is noticed only through missed heartbeats; its experiment is then retried elsewhere.
    heartbeatTimeout: `${options.heartbeatTimeoutSeconds} seconds`,
    // On `pause --now`, record the experiment as cancelled only once its process group is gone,
    // so the GPU is free when the run resumes.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
  };
}

/** The experiment in flight, which `pause --now` cancels (per execution: no module-level state). */
interface InFlight {
  scope: CancellationScope | null;
}

export async function researchLoop(options: RunOptions, snapshot?: RunSnapshot): Promise<RunSummary> {
  const state = RunState.start(options, snapshot);
  const inFlight: InFlight = { scope: null };

  setHandler(pauseSignal, (how?: PauseOptions) => {
    state.pause();
    if (how?.now) inFlight.scope?.cancel();
  });
  setHandler(resumeSignal, () => state.resume());
  setHandler(stopSignal, () => state.stop());
  setHandler(redirectUpdate, (note) => (state.addNote(note), [...state.notes]), {
    validator: (note) => void state.checkNote(note),
  });
  setHandler(queueUpdate, (idea) => (state.queueIdea(idea), state.status().queue), {
    validator: (idea) => void state.checkIdea(idea),
  });
  setHandler(
    limitsUpdate,
    (change) => {
      state.setLimits(state.checkLimits(change, Date.now()));
      return {
        maxExperiments: state.options.maxExperiments ?? null,
        deadline: state.options.deadline ?? null,
      };
    },
    { validator: (change) => void state.checkLimits(change, Date.now()) },
  );
  setHandler(statusQuery, () => state.status());

  // One upsert per phase change, as before (a replayed history expects the same commands).
  const show = (phase: Phase, headline: string) => {
    state.enterPhase(phase, Date.now());
    setCurrentDetails(currentDetails(state, headline));
    if (options.searchAttributes)
      upsertSearchAttributes([
        { key: PHASE, value: phase },
        { key: STATUS, value: state.label },
      ]);
  };

  if (options.searchAttributes)
    upsertSearchAttributes([
      { key: TAG, value: options.tag },
      { key: TARGET, value: targetName(options.repo) },
      { key: STATUS, value: state.label },
    ]);

  if (!state.prepared) {
    show('preparing', `Preparing target ${options.repo}`);
    state.setPrepared(
      await control.prepareRun.executeWithOptions(
        controlOptions(options, `prepare ${options.tag}: validate target, create branch`),
        [
          {
            repo: options.repo,
            tag: options.tag,
            budgetSeconds: options.budgetSeconds,
            timeoutSeconds: options.timeoutSeconds,
          },
        ],
      ),
    );
  }

  while (!state.finished) {
    if (state.paused) {
      show(
        'paused',
        `${state.pausedReason ? `Paused: ${state.pausedReason}` : `Paused after ${state.experimentsDone} experiments`}; ` +
          'signal "resume" to continue',
      );
      await condition(() => !state.paused || state.stopRequested);
      continue;
    }
    await runExperiment(state, show, inFlight);
    if (options.searchAttributes) {
      upsertSearchAttributes([
        { key: EXPERIMENTS, value: state.experimentsDone },
        { key: KEPT, value: state.status().counts.keep },
      ]);
      if (state.best) upsertSearchAttributes([{ key: BEST_METRIC, value: state.best.metric }]);
    }
    if (state.finished) break;
    if (workflowInfo().continueAsNewSuggested || state.finishedThisExecution >= options.experimentsPerRun) {
      // Keep the history bounded: a new execution carries the state (and the limits as last changed);
      // let in-flight handlers finish first.
      await condition(allHandlersFinished);
      return await continueAsNew<typeof researchLoop>(state.options, state.snapshot());
    }
  }

  const summary = state.summary();
  show(
    summary.reason === 'stopped' ? 'stopped' : 'finished',
    `Finished (${summary.reason}): ${summary.experimentsDone} experiments, best ${state.best?.metric ?? 'n/a'} (experiment ${state.best?.n ?? '-'})`,
  );
  await condition(allHandlersFinished);
  return summary;
}

async function runExperiment(
  state: RunState,
  show: (phase: Phase, details: string) => void,
  inFlight: InFlight,
): Promise<void> {
  const options = state.options;
  const prepared = state.prepared!;
  const config = prepared.config;
  const n = state.nextExperiment;
  const startedAt = Date.now();
  const idea = n === 0 ? undefined : state.nextIdea;

  // Propose, train and evaluate in a scope of their own: `pause --now` cancels it, and the experiment
  // is then recorded as cancelled (the record step runs outside the scope, so it still happens).
  let candidate: Candidate | undefined;
  let outcome: TrainingOutcome | undefined;
  let evaluation: Evaluation;
  const scope = new CancellationScope();
  inFlight.scope = scope;
  try {
    const proposed = await scope.run(() => propose(state, show, n, idea));
    if (!proposed) return; // the proposer refused; the run paused itself with the reason
    candidate = proposed;
    state.begin(candidate);
    // An invalid proposal trains nothing; a slot that failed every attempt is a crash; otherwise score it.
    if (candidate.invalid) {
      evaluation = { status: 'invalid', reason: candidate.invalid };
    } else {
      show('training', `Experiment ${n} training: ${candidate.description}`);
      const trained = await scope.run(() => train(options, config, candidate!));
      show('evaluating', `Experiment ${n} evaluating: ${candidate.description}`);
      if ('failure' in trained) {
        evaluation = { status: 'crash', reason: trained.failure };
      } else {
        outcome = trained;
        evaluation = await scope.run(() =>
          control.evaluateCandidate.executeWithOptions(controlOptions(options, `exp ${n} evaluate`), [
            {
              repo: options.repo,
              commit: candidate!.commit,
              config,
              frozenBlobs: prepared.frozenBlobs,
              outcome: trained,
            },
          ]),
        );
      }
    }
  } catch (err) {
    if (!(scope.consideredCancelled && isCancellation(err))) throw err;
    if (n === 0) {
      // Without a baseline nothing can be compared: it runs again on resume rather than being recorded.
      state.current = null;
      return;
    }
    evaluation = { status: 'cancelled', reason: 'cancelled by pause --now' };
    candidate ??= {
      n,
      parent: state.parentCommit,
      commit: state.parentCommit,
      description: state.current?.description ?? 'cancelled while proposing',
    };
  } finally {
    inFlight.scope = null;
  }

  const status = state.decide(evaluation);
  const record: ExperimentRecord = {
    n,
    parent: candidate.parent,
    commit: candidate.commit,
    description: candidate.description,
    status,
    metric: evaluation.metric,
    memoryGb: evaluation.memoryGb,
    reason: evaluation.reason,
    hypothesis: candidate.hypothesis,
    cost: candidate.cost,
    idea,
    logTail: status === 'crash' || status === 'timeout' ? outcome?.logTail : undefined,
    trainSeconds: outcome?.trainSeconds ?? 0,
    startedAt,
    finishedAt: Date.now(),
  };

  show('recording', `Experiment ${n} ${status}: ${candidate.description}`);
  await control.recordExperiment.executeWithOptions(controlOptions(options, `exp ${n} record: ${status}`), [
    {
      repo: options.repo,
      runDir: prepared.runDir,
      branch: prepared.branch,
      record,
      previousBest: state.parentCommit,
      chart: {
        metricName: config.metric.name,
        direction: config.metric.direction,
        title: `autoresearch ${options.tag}`,
      },
    },
  ]);
  state.finish(record);

  if (n === 0 && status !== 'keep') {
    throw ApplicationFailure.nonRetryable(
      `The baseline did not produce a valid ${config.metric.name} (${status}: ${evaluation.reason ?? 'no reason given'}). ` +
        `Fix the target so that \`${config.train.command}\` trains and prints "${config.metric.name}: <value>"; log: ${outcome?.logPath ?? 'none'}`,
      'BaselineFailed',
    );
  }
}

/** Step 1: the baseline is the branch's start; later experiments ask the proposer (null: it refused). */
async function propose(
  state: RunState,
  show: (phase: Phase, details: string) => void,
  n: number,
  idea: string | undefined,
): Promise<Candidate | null> {
  const options = state.options;
  const prepared = state.prepared!;
  if (n === 0)
    return { n, parent: prepared.baseCommit, commit: prepared.baseCommit, description: 'baseline' };
  state.begin({ n, description: null });
  show(
    'proposing',
    idea
      ? `Experiment ${n}: the ${options.proposer} proposer tries the queued idea "${idea}"`
      : `Experiment ${n}: asking the ${options.proposer} proposer for an edit`,
  );
  try {
    const candidate = await control.proposeCandidate.executeWithOptions(
      controlOptions(options, `exp ${n} propose (${options.proposer})`),
      [
        {
          repo: options.repo,
          tag: options.tag,
          n,
          parent: state.parentCommit,
          proposer: options.proposer,
          seed: options.seed,
          config: prepared.config,
          notes: [...state.notes],
          ...(idea !== undefined ? { idea } : {}),
          runDir: prepared.runDir,
          claude: options.claude,
          command: options.command,
        },
      ],
    );
    return idea !== undefined ? { ...candidate, idea } : candidate;
  } catch (err) {
    // The proposer refused for a reason a person must fix (a bad API key, an unknown model): pause,
    // say why, and lose nothing. `resume` retries the same experiment.
    if (
      err instanceof ActivityFailure &&
      err.cause instanceof ApplicationFailure &&
      err.cause.type === 'ProposerRefused'
    ) {
      state.current = null;
      state.pause(err.cause.message);
      return null;
    }
    throw err;
  }
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
): Promise<TrainingOutcome | { failure: string }> {
  const activityOptions = trainOptions(options, config.train.timeoutSeconds);
  try {
    return await proxyActivities<TrainActivities>(activityOptions).trainCandidate.executeWithOptions(
      { ...activityOptions, summary: `exp ${candidate.n} train: ${candidate.description}` },
      [{ repo: options.repo, tag: options.tag, n: candidate.n, commit: candidate.commit, config }],
    );
  } catch (err) {
    if (isCancellation(err) || !(err instanceof ActivityFailure)) throw err;
    return { failure: `training failed on the worker after retries: ${err.cause?.message ?? err.message}` };
  }
}
