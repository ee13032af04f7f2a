// The research loop, as program.md tells it: run the baseline; then forever propose an edit to the
// best code so far, train it for the fixed budget, score it, keep it if strictly better, else discard.
// Deterministic: every side effect is an activity; the state and its rules live in RunState.
import {
  ActivityFailure,
  ApplicationFailure,
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
import { BEST_METRIC, EXPERIMENTS, PHASE, TAG } from '../lib/searchAttributes';
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
import { pauseSignal, redirectSignal, resumeSignal, statusQuery, stopSignal } from './messages';
import { RunState, type RunSnapshot } from './runState';

// Control steps touch only git and small files: short timeouts, retried on infrastructure errors.
// A TargetError is the target's fault (bad config, dirty tree ...): retrying cannot fix it.
const controlOptions: ActivityOptions = {
  startToCloseTimeout: '5 minutes',
  retry: {
    initialInterval: '1 second',
    maximumInterval: '30 seconds',
    nonRetryableErrorTypes: ['TargetError'],
  },
};
const control = proxyActivities<ControlActivities>(controlOptions);

function trainOptions(options: RunOptions, timeoutSeconds: number): ActivityOptions {
  return {
    taskQueue: options.trainTaskQueue,
    // The script's own hard timeout kills it first; this bound only catches a worker that hangs itself.
    // Slot setup (uv sync, data preparation) can add a few minutes on a fresh slot.
    startToCloseTimeout: `${timeoutSeconds + 30 * 60} seconds`,
    // A dead worker is noticed only through missed heartbeats; its experiment is then retried elsewhere.
    heartbeatTimeout: `${options.heartbeatTimeoutSeconds} seconds`,
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
  };
}

export async function researchLoop(options: RunOptions, snapshot?: RunSnapshot): Promise<RunSummary> {
  const state = RunState.start(options, snapshot);

  setHandler(pauseSignal, () => state.pause());
  setHandler(resumeSignal, () => state.resume());
  setHandler(stopSignal, () => state.stop());
  setHandler(redirectSignal, (note: string) => {
    // A bad note is dropped (signals cannot answer back); `autoresearch redirect` validates before sending.
    try {
      state.addNote(note);
    } catch {
      /* ignored: empty or oversized note */
    }
  });
  setHandler(statusQuery, () => state.status());

  const show = (phase: Phase, details: string) => {
    state.phase = phase;
    setCurrentDetails(details);
    if (options.searchAttributes) upsertSearchAttributes([{ key: PHASE, value: phase }]);
  };

  if (options.searchAttributes) upsertSearchAttributes([{ key: TAG, value: options.tag }]);

  if (!state.prepared) {
    show('preparing', `Preparing target ${options.repo}`);
    state.setPrepared(
      await control.prepareRun.executeWithOptions(
        { ...controlOptions, summary: `prepare ${options.tag}: validate target, create branch` },
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
    await runExperiment(state, show);
    if (options.searchAttributes) {
      upsertSearchAttributes([{ key: EXPERIMENTS, value: state.experimentsDone }]);
      if (state.best) upsertSearchAttributes([{ key: BEST_METRIC, value: state.best.metric }]);
    }
    if (state.finished) break;
    if (workflowInfo().continueAsNewSuggested || state.finishedThisExecution >= options.experimentsPerRun) {
      // Keep the history bounded: a new execution carries the state; let in-flight handlers finish first.
      await condition(allHandlersFinished);
      return await continueAsNew<typeof researchLoop>(options, state.snapshot());
    }
  }

  const summary = state.summary();
  show(
    summary.reason === 'stopped' ? 'stopped' : 'finished',
    `Finished: ${summary.experimentsDone} experiments, best ${state.best?.metric ?? 'n/a'} (experiment ${state.best?.n ?? '-'})`,
  );
  await condition(allHandlersFinished);
  return summary;
}

async function runExperiment(state: RunState, show: (phase: Phase, details: string) => void): Promise<void> {
  const options = state.options;
  const prepared = state.prepared!;
  const config = prepared.config;
  const n = state.nextExperiment;
  const startedAt = Date.now();

  let candidate: Candidate;
  if (n === 0) {
    candidate = { n, parent: prepared.baseCommit, commit: prepared.baseCommit, description: 'baseline' };
  } else {
    state.begin({ n, description: null });
    show('proposing', `Experiment ${n}: asking the ${options.proposer} proposer for an edit`);
    try {
      candidate = await control.proposeCandidate.executeWithOptions(
        { ...controlOptions, summary: `exp ${n} propose (${options.proposer})` },
        [
          {
            repo: options.repo,
            tag: options.tag,
            n,
            parent: state.parentCommit,
            proposer: options.proposer,
            seed: options.seed,
            config,
            notes: [...state.notes],
            runDir: prepared.runDir,
            claude: options.claude,
            command: options.command,
          },
        ],
      );
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
        return;
      }
      throw err;
    }
  }
  state.begin(candidate);

  // An invalid proposal trains nothing; a slot that failed every attempt is a crash; otherwise score it.
  let outcome: TrainingOutcome | undefined;
  let evaluation: Evaluation;
  if (candidate.invalid) {
    evaluation = { status: 'invalid', reason: candidate.invalid };
  } else {
    show('training', `Experiment ${n} training: ${candidate.description}`);
    const trained = await train(options, config, candidate);
    show('evaluating', `Experiment ${n} evaluating: ${candidate.description}`);
    if ('failure' in trained) {
      evaluation = { status: 'crash', reason: trained.failure };
    } else {
      outcome = trained;
      evaluation = await control.evaluateCandidate.executeWithOptions(
        { ...controlOptions, summary: `exp ${n} evaluate` },
        [
          {
            repo: options.repo,
            commit: candidate.commit,
            config,
            frozenBlobs: prepared.frozenBlobs,
            outcome,
          },
        ],
      );
    }
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
    logTail: status === 'crash' || status === 'timeout' ? outcome?.logTail : undefined,
    trainSeconds: outcome?.trainSeconds ?? 0,
    startedAt,
    finishedAt: Date.now(),
  };

  show('recording', `Experiment ${n} ${status}: ${candidate.description}`);
  await control.recordExperiment.executeWithOptions(
    { ...controlOptions, summary: `exp ${n} record: ${status}` },
    [
      {
        repo: options.repo,
        runDir: prepared.runDir,
        branch: prepared.branch,
        record,
        previousBest: state.parentCommit,
      },
    ],
  );
  state.finish(record);

  if (n === 0 && status !== 'keep') {
    throw ApplicationFailure.nonRetryable(
      `The baseline did not produce a valid ${config.metric.name} (${status}: ${evaluation.reason ?? 'no reason given'}). ` +
        `Fix the target so that \`${config.train.command}\` trains and prints "${config.metric.name}: <value>"; log: ${outcome?.logPath ?? 'none'}`,
      'BaselineFailed',
    );
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
