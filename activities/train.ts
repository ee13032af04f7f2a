// Step 2 of an experiment, on a GPU worker: train the candidate for the fixed budget in this slot's
// worktree. Heartbeats carry progress; a hard timeout and cancellation kill the whole process group; the
// log is kept per experiment; secrets never reach the script (docs/ARCHITECTURE.md, invariants 4 and 5).
// Idempotent: a finished training leaves a result file, so a retry after the worker died between the
// end of training and the report returns that result instead of training again (invariant 1). Those
// files are signed by the worker (store/signedMarker.ts): one a candidate wrote is never taken.
// With a git remote (several machines), the worker trains from a clone of its own and never opens the
// target's repository: slots, logs and results then live in that clone.
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { toOutcome, withEvaluation } from '../training/outcome';
import type { TargetConfig, TrainingOutcome } from '../common/types';
import { setupTimeoutSeconds } from '../common/trainBound';
import { targetError } from '../common/errors';
import { Repo } from '../store/git';
import { candidateRef } from '../common/names';
import { homePath } from '../system/home';
import { fetchCommit, trainingClone } from '../store/remote';
import { runDir as runDirOf, experimentLogPath } from '../store/runDirectory';
import { runSupervised, type SupervisedResult } from '../training/runSupervised';
import {
  checkoutSlot,
  claimSlot,
  cleanForEvaluation,
  cleanSlot,
  freshPycachePrefix,
  modifiedInSlot,
  type Slot,
} from '../training/slot';
import { sandboxArgs } from '../training/sandbox';
import { limitsFor, scratchSizeMb, type SandboxLimits } from '../training/sandboxLimits';
import { SANDBOX_DEFAULTS } from '../target/config';
import { readSignedMarker, writeSignedMarker, type MarkerFields } from '../store/signedMarker';
import { trainingEnv } from '../training/environment';

export interface TrainInput {
  repo: string;
  tag: string;
  n: number;
  commit: string;
  config: TargetConfig;
  /** The run's git remote: when set, the candidate is fetched from it into this worker's own clone. */
  remote?: string;
  /** Train with this random seed, the way the target's config says (seed_env or seed_arg). */
  seed?: number;
  /**
   * The k-th repeat of the identical run (no seed set: a target that declares none), to measure the
   * noise or to confirm a result; it logs and saves its result apart from the first run.
   */
  repeat?: number;
}

/** One place a training runs on this worker: a name, and the GPUs it is pinned to (if any). */
export interface SlotSpec {
  name: string;
  /** CUDA_VISIBLE_DEVICES for this slot's trainings. */
  gpus?: string;
}

export interface TrainWorkerOptions {
  /** This worker's slots (one per GPU): each trains one candidate at a time. */
  slots?: SlotSpec[];
  /** With no `slots`: the one slot's name on this machine, e.g. "gpu0"... */
  slot?: string;
  /** ...and its GPUs, if pinned. */
  gpus?: string;
  /** Directories put first on the training's PATH (the project's uv). */
  extraPath?: string[];
  /** Where this worker keeps its clones of runs' remotes (default: ~/.autoresearch/work). */
  workdir?: string;
  /**
   * Run training, set-up and evaluation in the bubblewrap sandbox (a worker's choice, never a run's).
   * On unless set to false.
   */
  sandbox?: boolean;
}

export function createTrainActivities(worker: TrainWorkerOptions) {
  const slots = new SlotPool(worker.slots ?? [{ name: worker.slot ?? 'gpu0', gpus: worker.gpus }]);
  const sandboxed = worker.sandbox ?? true;

  async function trainCandidate(input: TrainInput): Promise<TrainingOutcome> {
    const ctx = Context.current();
    const seeded = seededCommand(input.config, input.seed);
    const repo = input.remote
      ? await trainingClone(worker.workdir ?? homePath('work'), input.remote)
      : await Repo.open(input.repo);
    const runDir = runDirOf(repo.commonDir, input.tag);
    // Another seed or a repeat of the same experiment (the baseline's noise runs, a confirmation) keeps
    // logs and results of its own.
    const logPath = experimentLogPath(runDir, input.n).replace(
      /\.log$/,
      input.seed !== undefined
        ? `.seed${input.seed}.log`
        : input.repeat !== undefined
          ? `.repeat${repeatNumber(input.repeat)}.log`
          : '.log',
    );
    const resultPath = logPath.replace(/\.log$/, '.result.json');
    // Saved outcomes are this run's only: a reused tag's old run directory (a training clone's, say)
    // holds outcomes of the same baseline commit, which would otherwise come back as "trained".
    const runId = ctx.info.workflowExecution?.runId ?? 'none';
    // What a saved outcome must say it is for: this very training (experiment, seed or repeat, commit, run).
    const about = (purpose: 'trained' | 'result'): MarkerFields => ({
      purpose,
      commit: input.commit,
      runId,
      tag: input.tag,
      n: input.n,
      seed: input.seed,
      repeat: input.repeat,
    });
    const done = readFinished(resultPath, about('result'));
    if (done) return done;
    if (input.remote) await fetchCandidate(repo, input, ctx);

    // A retry goes back to the slot that trained the candidate, if it is free: its worktree may hold
    // what the training wrote.
    const trainedPath = logPath.replace(/\.log$/, '.trained.json');
    const trained = readFinished(trainedPath, about('trained'));
    const own = slots.take(trained?.slot);
    try {
      const slot = claimSlot(repo, own.name);
      const env: NodeJS.ProcessEnv = {
        ...trainingEnv(
          process.env,
          {
            budgetSeconds: input.config.train.budgetSeconds,
            gpus: own.gpus,
            extraPath: worker.extraPath,
          },
          input.config.sandbox?.env,
        ),
        ...seeded.env,
        // Byte code outside the worktree (see freshPycachePrefix): none the candidate wrote is ever loaded.
        PYTHONPYCACHEPREFIX: freshPycachePrefix(slot),
      };
      // Candidate code sees only its worktree (frozen files and set-up outputs read-only) and no network;
      // the set-up (the target's own commands, downloads) may reach the network and write its outputs.
      // The target's [sandbox] may open the network to candidate code too, and show data kept elsewhere.
      const declared = input.config.sandbox;
      // Limits hold with the sandbox off too: a runaway training (a leak, a bomb) takes the machine either
      // way, and a training that fits them sandboxed fits them unsandboxed, so turning it off changes nothing else.
      const limits = (setup: boolean) =>
        limitsFor(declared ?? SANDBOX_DEFAULTS, setup ? 'setup' : 'training');
      const sandbox = (setup: boolean) =>
        sandboxed
          ? sandboxArgs({
              worktree: slot.worktree,
              gitCommonDir: repo.commonDir,
              network: setup || declared?.network === true,
              writableCache: setup,
              readPaths: declared?.readPaths,
              writePaths: declared?.writePaths,
              pathVariable: env.PATH,
              scratchMb: scratchSizeMb(limits(setup)),
              readOnlyInWorktree: setup
                ? input.config.files.frozen
                : [...input.config.files.frozen, ...(input.config.train.setupOutputs ?? [])],
            })
          : undefined;
      const beat = (phase: string) => (lastLine: string, elapsedSeconds: number) =>
        ctx.heartbeat({ phase, experiment: input.n, elapsedSeconds: Math.round(elapsedSeconds), lastLine });

      // A training that ran to completion is never run again (docs/ARCHITECTURE.md, invariant 1): its
      // outcome is saved the moment it ends, and a retry (after the worker died in the evaluation or the
      // clean-up) resumes from there, provided this slot's worktree still holds what the training wrote.
      let outcome = await resumable(trained, input.commit, slot, repo);
      if (!outcome) {
        await checkoutSlot(repo, slot, input.commit, input.config.train.setupOutputs);
        const setup = await ensureSetup(
          repo,
          slot,
          input,
          env,
          beat('setup'),
          ctx.cancellationSignal,
          sandbox(true),
          limits(true),
        );
        if (setup && setup.exitCode !== 0) {
          if (setup.cancelled) throw new CancelledFailure('training cancelled during set-up');
          outcome = toOutcome(setup, slot.setupLog, input.config, slot.name, []);
          outcome.setupFailed = true;
        } else {
          ctx.heartbeat({ phase: 'training', experiment: input.n, elapsedSeconds: 0, lastLine: '' });
          let finished: TrainingOutcome | undefined;
          const result = await runSupervised({
            command: seeded.command,
            cwd: slot.worktree,
            env,
            logPath,
            timeoutSeconds: input.config.train.timeoutSeconds,
            pidFile: slot.pidFile,
            cancel: ctx.cancellationSignal,
            onProgress: beat('training'),
            sandbox: sandbox(false),
            limits: limits(false),
            slot: slot.name,
            // Saved the moment the training ends, before the clean-up after it: a worker that dies in
            // between must find it, or a finished training would run again.
            onFinished: (done) => {
              finished = toOutcome(done, logPath, input.config, slot.name, []);
              if (!done.cancelled) writeSignedMarker(trainedPath, about('trained'), finished);
            },
          });
          if (result.cancelled) throw new CancelledFailure('training cancelled');
          outcome = finished ?? toOutcome(result, logPath, input.config, slot.name, []);
        }
      }
      if (!outcome.setupFailed)
        // Checked before the evaluation runs: a training that edited the evaluation is never scored.
        outcome.frozenModified = await modifiedInSlot(repo, slot, input.config.files.frozen);
      const evaluation = input.config.eval;
      if (
        evaluation &&
        !outcome.setupFailed &&
        outcome.exitCode === 0 &&
        !outcome.timedOut &&
        outcome.frozenModified.length === 0
      ) {
        ctx.heartbeat({ phase: 'evaluating', experiment: input.n, elapsedSeconds: 0, lastLine: '' });
        // The evaluation reads the commit, the set-up's outputs and the declared artifacts, nothing else the
        // training left (a shadow module, a forged byte-code file); a config that declares no artifacts
        // (an earlier version's) keeps what the training wrote, its checkpoint being somewhere in it.
        freshPycachePrefix(slot);
        if (evaluation.artifacts)
          await cleanForEvaluation(repo, slot, input.commit, [
            ...(input.config.train.setupOutputs ?? []),
            ...evaluation.artifacts,
          ]);
        const evalLog = logPath.replace(/\.log$/, '.eval.log');
        const evaluated = await runSupervised({
          command: evaluation.command,
          cwd: slot.worktree,
          env,
          logPath: evalLog,
          timeoutSeconds: evaluation.timeoutSeconds,
          pidFile: slot.pidFile,
          cancel: ctx.cancellationSignal,
          onProgress: beat('evaluating'),
          sandbox: sandbox(false),
          limits: limits(false),
          slot: slot.name,
        });
        if (evaluated.cancelled) throw new CancelledFailure('evaluation cancelled');
        outcome = withEvaluation(outcome, evaluated, evalLog, input.config);
        // The evaluation runs the candidate's model code too: what it leaves behind is checked the same way.
        outcome.frozenModified = await modifiedInSlot(repo, slot, input.config.files.frozen);
      }
      // The result first: a retry after this point returns it and never touches the slot again.
      writeSignedMarker(resultPath, about('result'), outcome);
      // Leave the worktree clean for the next experiment (and for anyone looking at it); were the worker
      // to die right here, the next checkout of this slot cleans it instead.
      await cleanSlot(repo, slot, input.commit, input.config.train.setupOutputs);
      return outcome;
    } finally {
      slots.release(own);
    }
  }

  /** Runs the target's set-up commands once per slot and per version of them; null when nothing ran. */
  async function ensureSetup(
    repo: Repo,
    slot: Slot,
    input: TrainInput,
    env: NodeJS.ProcessEnv,
    onProgress: (line: string, seconds: number) => void,
    cancel: AbortSignal,
    sandbox: string[] | undefined,
    limits: SandboxLimits,
  ): Promise<SupervisedResult | null> {
    const commands = input.config.train.setup;
    if (commands.length === 0) return null;
    const frozen = await Promise.all(input.config.files.frozen.map((f) => repo.blobSha(input.commit, f)));
    const key = createHash('sha256').update(JSON.stringify({ commands, frozen })).digest('hex');
    // Signed too: a set-up marker a candidate forged would otherwise skip the set-up of the next version.
    const done: MarkerFields = { purpose: 'setup', slot: slot.dir, setup: key };
    if (readSignedMarker(slot.setupMarker, done) !== null) return null;
    const result = await runSupervised({
      command: commands.map((c) => `(${c})`).join(' && '),
      cwd: slot.worktree,
      env,
      logPath: slot.setupLog,
      timeoutSeconds: setupTimeoutSeconds(input.config),
      pidFile: slot.pidFile,
      cancel,
      onProgress,
      sandbox,
      limits,
      slot: slot.name,
    });
    if (result.exitCode === 0) writeSignedMarker(slot.setupMarker, done, true);
    return result;
  }

  return { trainCandidate };
}

/** Brings the candidate into this worker's clone of the remote, saying it is alive while it downloads. */
async function fetchCandidate(clone: Repo, input: TrainInput, ctx: Context): Promise<void> {
  const beat = () =>
    ctx.heartbeat({ phase: 'fetching', experiment: input.n, elapsedSeconds: 0, lastLine: '' });
  beat();
  const timer = setInterval(beat, 5000);
  try {
    await fetchCommit(clone, input.remote!, input.commit, candidateRef(input.tag, input.n), {
      cancel: ctx.cancellationSignal,
    });
  } catch (err) {
    if (ctx.cancellationSignal.aborted) throw new CancelledFailure('training cancelled while fetching');
    throw err;
  } finally {
    clearInterval(timer);
  }
}

/** A repeat's number, checked: it names the repeat's log file. */
function repeatNumber(repeat: number): number {
  if (!Number.isInteger(repeat) || repeat < 1)
    throw new Error(`a repeat must be a whole number >= 1; got ${repeat}`);
  return repeat;
}

/** The training command and the environment that give it `seed`, as the target's config says. */
export function seededCommand(
  config: TargetConfig,
  seed: number | undefined,
): { command: string; env: Record<string, string> } {
  const { command, seedEnv, seedArg } = config.train;
  if (seed === undefined) return { command, env: {} };
  if (!Number.isInteger(seed) || seed < 0)
    throw new Error(`a training seed must be a whole number >= 0; got ${seed}`);
  if (seedEnv) return { command, env: { [seedEnv]: String(seed) } };
  if (seedArg) return { command: `${command} ${seedArg} ${seed}`, env: {} };
  throw targetError(
    `${config.source} does not say how to set the training's random seed: add seed_env = "NAME" (a variable ` +
      'train.py reads) or seed_arg = "--seed" (a flag it takes) under [train].',
  );
}

/**
 * The worker's slots: a training takes a free one (the worker runs at most as many at once as it has
 * slots, so one is always free), preferring the slot a retry trained in before.
 */
class SlotPool {
  private busy = new Set<string>();
  constructor(private readonly slots: SlotSpec[]) {}

  take(preferred?: string): SlotSpec {
    const free = this.slots.filter((s) => !this.busy.has(s.name));
    const slot = free.find((s) => s.name === preferred) ?? free[0];
    if (!slot) throw new Error(`all ${this.slots.length} training slots of this worker are busy`);
    this.busy.add(slot.name);
    return slot;
  }

  release(slot: SlotSpec): void {
    this.busy.delete(slot.name);
  }
}

/**
 * The saved outcome of a training that ran to completion, when a retry can build on it: the same
 * candidate, trained in this slot, whose worktree is still at that commit (the evaluation needs what the
 * training wrote there). Otherwise null, and the candidate trains again.
 */
async function resumable(
  saved: TrainingOutcome | null,
  commit: string,
  slot: Slot,
  repo: Repo,
): Promise<TrainingOutcome | null> {
  if (!saved || saved.slot !== slot.name || !existsSync(slot.worktree)) return null;
  const head = await repo.rawIn(slot.worktree, ['rev-parse', 'HEAD']).catch(() => '');
  return head.trim() === commit ? saved : null;
}

/**
 * The outcome this worker saved for exactly this training (`about`: commit, run id, experiment, seed or
 * repeat), if any. A training never outlives the workflow execution that started it (continuing as new
 * waits for the experiments in flight), so its retries share its run id. Anything else reads as absent
 * and the candidate trains again: a file a candidate forged, another experiment's, a tampered one, and
 * one written before markers were signed (an upgrade mid-training costs that training once more, which
 * is the safe side: a retraining costs time, a forged outcome would cost the record).
 */
function readFinished(resultPath: string, about: MarkerFields): TrainingOutcome | null {
  return readSignedMarker<TrainingOutcome>(resultPath, about);
}
