// The activities one experiment calls, with their timeouts and retries declared here, and the thin
// wrappers that hand each one its input from the run's state. Nothing here decides anything.
import {
  ActivityCancellationType,
  ActivityFailure,
  isCancellation,
  proxyActivities,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { ControlActivities, TrainActivities } from '../activities';
import type {
  Candidate,
  Evaluation,
  ExperimentRecord,
  PreparedRun,
  RunOptions,
  TargetConfig,
  TrainingOutcome,
} from '../common/types';
import { CONTROL_STEP_TIMEOUT, pinnedBaseline, proposeStepSeconds, trainStepBoundSeconds } from './compat';
import type { RunState } from './runState';
import { ERROR_TYPE } from '../common/names';

// Control steps touch only git and small files: short timeouts, retried on infrastructure errors.
// A TargetError is the target's fault (bad config, dirty tree ...): retrying cannot fix it.
const controlDefaults: ActivityOptions = {
  startToCloseTimeout: CONTROL_STEP_TIMEOUT,
  retry: {
    initialInterval: '1 second',
    maximumInterval: '30 seconds',
    nonRetryableErrorTypes: [ERROR_TYPE.target],
  },
};
const control = proxyActivities<ControlActivities>(controlDefaults);
type RebaseResult = Awaited<ReturnType<ControlActivities['rebaseCandidate']>>;

/**
 * A worker killed in the middle of a control step is noticed, like one killed while training, when its
 * heartbeats stop (the control activities heartbeat while they run), not only when the 5 minutes of the
 * start-to-close timeout are up: the step is retried on another worker within seconds.
 */
function controlOptions(options: RunOptions, summary: string): ActivityOptions {
  return { ...controlDefaults, heartbeatTimeout: `${options.heartbeatTimeoutSeconds} seconds`, summary };
}

/**
 * The proposal step: a coding agent or an API call may take longer than a control step's 5 minutes,
 * so its bound is the proposer's own. On `pause --now` the experiment is recorded as cancelled only
 * once the agent's process group is gone.
 */
function proposeOptions(options: RunOptions, summary: string): ActivityOptions {
  const base = controlOptions(options, summary);
  const seconds = proposeStepSeconds(options);
  if (seconds === null) return base;
  return {
    ...base,
    startToCloseTimeout: `${seconds} seconds`,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  };
}

function trainOptions(options: RunOptions, config: TargetConfig): ActivityOptions {
  return {
    taskQueue: options.trainTaskQueue,
    // Each part's own timeout (set-up, training, evaluation, fetch) ends it first; this bound only
    // catches a worker that hangs itself.
    startToCloseTimeout: `${trainStepBoundSeconds(options, config)} seconds`,
    // A dead worker is noticed only through missed heartbeats; its experiment is then retried elsewhere.
    heartbeatTimeout: `${options.heartbeatTimeoutSeconds} seconds`,
    // On `pause --now`, record the experiment as cancelled only once its process group is gone,
    // so the GPU is free when the run resumes.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
  };
}

function remoteOf(options: RunOptions): { remote?: string } {
  return options.remote ? { remote: options.remote } : {};
}

/** Validate the target, hash its frozen files, create the branch, set it up. */
export function prepare(options: RunOptions): Promise<PreparedRun> {
  return control.prepareRun.executeWithOptions(
    controlOptions(options, `prepare ${options.tag}: validate target, create branch`),
    [
      {
        repo: options.repo,
        tag: options.tag,
        budgetSeconds: options.budgetSeconds,
        timeoutSeconds: options.timeoutSeconds,
        ...pinnedBaseline(options),
        ...remoteOf(options),
      },
    ],
  );
}

/** Ask the proposer for an edit to the best so far (`round` > 0: again, the first no longer applied). */
export function propose(
  state: RunState,
  n: number,
  idea: string | undefined,
  round: number,
): Promise<Candidate> {
  const options = state.options;
  const prepared = state.prepared!;
  return control.proposeCandidate.executeWithOptions(
    proposeOptions(options, `exp ${n} propose (${options.proposer})`),
    [
      {
        repo: options.repo,
        tag: options.tag,
        n,
        parent: state.parentCommit,
        ...remoteOf(options),
        proposer: options.proposer,
        seed: options.seed,
        config: prepared.config,
        notes: [...state.input.notes],
        ...(idea !== undefined ? { idea } : {}),
        ...(round ? { round } : {}),
        runDir: prepared.runDir,
        claude: options.claude,
        command: options.command,
      },
    ],
  );
}

/**
 * Replay a candidate's edit onto `onto`: the best as it is now, or (`ahead`) experiment `ahead.n`'s
 * candidate while it trains, in case it is kept (workflows/speculation.ts).
 */
export function rebase(
  state: RunState,
  n: number,
  candidate: Candidate,
  onto: string,
  ahead?: { n: number },
): Promise<RebaseResult> {
  const options = state.options;
  const summary = ahead
    ? `exp ${n} rebase ahead onto exp ${ahead.n} (in training)`
    : `exp ${n} rebase onto exp ${state.best?.n ?? 0}`;
  return control.rebaseCandidate.executeWithOptions(controlOptions(options, summary), [
    {
      repo: options.repo,
      tag: options.tag,
      n,
      commit: candidate.commit,
      parent: candidate.parent,
      onto,
      ...remoteOf(options),
      ...(ahead ? { speculative: true } : {}),
    },
  ]);
}

/** A training of an experiment again: with another seed, or the identical run repeated. */
export type Again = { seed: number } | { repeat: number };

export function againText(again: Again): string {
  return 'seed' in again ? `seed ${again.seed}` : `repeat ${again.repeat}`;
}

/**
 * Trains a candidate on the GPU queue. If every attempt fails (the slot itself is broken, not the
 * script: a script's crash is a normal outcome), the experiment is recorded as a crash and the run goes
 * on, rather than a whole night's run failing on one bad worker.
 */
export async function train(
  options: RunOptions,
  prepared: PreparedRun,
  candidate: Candidate,
  again?: Again,
): Promise<TrainingOutcome | { failure: string }> {
  const { config, frozenBlobs } = prepared;
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
          // The worker gives the verdict with them (steps.evaluate); an older worker ignores them.
          frozenBlobs,
          ...remoteOf(options),
          ...again,
        },
      ],
    );
  } catch (err) {
    if (isCancellation(err) || !(err instanceof ActivityFailure)) throw err;
    return { failure: `training failed on the worker after retries: ${err.cause?.message ?? err.message}` };
  }
}

/**
 * Parse the metrics from a training's outcome; check the frozen files are the baseline's. A training
 * worker that was handed the frozen blobs did both (activities/train.ts): its verdict is the outcome's,
 * and no step runs. The branch follows the recorded outcome, so a replay takes it the same way; outcomes
 * from older workers, and every one recorded before, have no verdict and go to the evaluate step.
 */
export function evaluate(
  state: RunState,
  candidate: Candidate,
  outcome: TrainingOutcome,
  again?: Again,
): Promise<Evaluation> {
  if (outcome.evaluation) return Promise.resolve(outcome.evaluation);
  const options = state.options;
  const prepared = state.prepared!;
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
 * Write a decided experiment out: move the branch on a keep (from `previousBest`), rewrite results; an
 * experiment rebased ahead (`speculation`) has its candidate ref moved to what it trained.
 */
export function record(
  state: RunState,
  record: ExperimentRecord,
  previousBest: string,
  speculation?: { proposed: string },
): Promise<void> {
  const options = state.options;
  const prepared = state.prepared!;
  return control.recordExperiment.executeWithOptions(
    controlOptions(options, `exp ${record.n} record: ${record.status}`),
    [
      {
        repo: options.repo,
        tag: options.tag,
        runDir: prepared.runDir,
        branch: prepared.branch,
        record,
        previousBest,
        ...remoteOf(options),
        ...(speculation ? { speculation } : {}),
        chart: {
          metricName: prepared.config.metric.name,
          direction: prepared.config.metric.direction,
          title: `autoresearch ${options.tag}`,
        },
      },
    ],
  );
}
