// Step 2 of an experiment, on a GPU worker: train the candidate for the fixed budget in this slot's
// worktree. Heartbeats carry progress; a hard timeout and cancellation kill the whole process group; the
// log is kept per experiment; secrets never reach the script (docs/ARCHITECTURE.md, invariants 4 and 5).
// Idempotent: a finished training leaves a result file, so a retry after the worker died between the
// end of training and the report returns that result instead of training again (invariant 1); one whose
// worker died as it ended leaves its supervisor's exit note, and a retry evaluates it without training. Those
// files are signed by the worker (store/signedMarker.ts): one a candidate wrote is never taken.
// With a git remote (several machines), the worker trains from a clone of its own and never opens the
// target's repository: slots, logs and results then live in that clone.
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import { frozenChangedIn, verdict } from './evaluate';
import type { TargetConfig, TrainingOutcome } from '../common/types';
import { candidateRef } from '../common/names';
import { Repo } from '../store/git';
import { fetchCommit, trainingClone } from '../store/remote';
import { runDir as runDirOf } from '../store/runDirectory';
import { writeSignedMarker } from '../store/signedMarker';
import { homePath } from '../system/home';
import { evaluates, runEvaluation } from '../training/evaluation';
import { endedOnItsOwn, resumable, runTraining } from '../training/runTraining';
import { sandboxFor } from '../training/sandboxFor';
import { seededCommand } from '../training/seededCommand';
import { ensureSetup, setupFailure } from '../training/setup';
import { checkoutSlot, claimSlot, cleanSlot, modifiedInSlot } from '../training/slot';
import { SlotPool, type SlotSpec } from '../training/slotPool';
import { slotRun, type OnProgress } from '../training/slotRun';
import { SupervisorStandby } from '../training/supervisorStandby';
import { readFinished, trainingFiles } from '../training/trainingFiles';

export type { SlotSpec };

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
   * The baseline's frozen blobs (file: blob SHA): with them, the worker also gives the verdict (the
   * outcome's `evaluation`), so the workflow has no evaluate step to wait for between two trainings.
   */
  frozenBlobs?: Record<string, string>;
  /**
   * The k-th repeat of the identical run (no seed set: a target that declares none), to measure the
   * noise or to confirm a result; it logs and saves its result apart from the first run.
   */
  repeat?: number;
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
  const standby = new SupervisorStandby();

  async function trainCandidate(input: TrainInput): Promise<TrainingOutcome> {
    const ctx = Context.current();
    const beat = (phase: string) => (lastLine: string, elapsedSeconds: number) =>
      ctx.heartbeat({ phase, experiment: input.n, elapsedSeconds: Math.round(elapsedSeconds), lastLine });
    const { config, commit } = input;
    const seeded = seededCommand(config, input.seed);
    const repo = input.remote
      ? await trainingClone(worker.workdir ?? homePath('work'), input.remote)
      : await Repo.open(input.repo);
    const runId = ctx.info.workflowExecution?.runId ?? 'none';
    const files = trainingFiles(runDirOf(repo.commonDir, input.tag), input, runId);
    const done = readFinished(files.result, files.about('result'));
    if (done) return done;
    if (input.remote) await fetchCandidate(repo, input, ctx, beat('fetching'));
    // The commit's frozen files are compared while it trains: the verdict is ready when the training is.
    const committedFrozen = input.frozenBlobs && frozenChangedIn(repo, commit, input.frozenBlobs);
    committedFrozen?.catch(() => undefined); // awaited below; a failure is thrown there

    // A retry goes back to the slot that trained the candidate, if it is free: its worktree may hold
    // what the training wrote. Saved by the worker, or else noted by the supervisor of a training that
    // ended as its worker died.
    const exitNote = { file: files.exited, fields: files.about('exited') };
    const trained =
      readFinished(files.trained, files.about('trained')) ?? endedOnItsOwn(exitNote, files.log, config);
    const own = slots.take(trained?.slot);
    try {
      const slot = claimSlot(repo, own.name);
      const at = slotRun(repo, slot, config, {
        budgetSeconds: config.train.budgetSeconds,
        gpus: own.gpus,
        extraPath: worker.extraPath,
        seeded: seeded.env,
        sandboxed,
        cancel: ctx.cancellationSignal,
        standby,
      });
      // A training that ran to completion is never run again (docs/ARCHITECTURE.md, invariant 1): its
      // outcome is saved the moment it ends, and a retry (after the worker died in the evaluation or the
      // clean-up) resumes from there, provided this slot's worktree still holds what the training wrote.
      let outcome = await resumable(at, trained, commit);
      if (!outcome) {
        await checkoutSlot(repo, slot, commit, config.train.setupOutputs);
        const setup = await ensureSetup(at, commit, beat('setup'), sandboxFor(at, 'setup'));
        if (setup && setup.exitCode !== 0) {
          if (setup.cancelled) throw new CancelledFailure('training cancelled during set-up');
          outcome = setupFailure(setup, slot, config);
        } else {
          beat('training')('', 0);
          outcome = await runTraining(at, sandboxFor(at, 'training'), {
            command: seeded.command,
            logPath: files.log,
            onProgress: beat('training'),
            saveTrained: (finished) => writeSignedMarker(files.trained, files.about('trained'), finished),
            exitNote,
          });
          if (!outcome) throw new CancelledFailure('training cancelled');
        }
      }
      if (!outcome.setupFailed)
        // Checked before the evaluation runs: a training that edited the evaluation is never scored.
        outcome.frozenModified = await modifiedInSlot(repo, slot, config.files.frozen);
      if (evaluates(outcome, config)) {
        beat('evaluating')('', 0);
        const evaluated = await runEvaluation(at, commit, outcome, files.evalLog, beat('evaluating'));
        if (!evaluated) throw new CancelledFailure('evaluation cancelled');
        outcome = evaluated;
      }
      if (committedFrozen)
        outcome = { ...outcome, evaluation: verdict(await committedFrozen, outcome, config) };
      // The result first: a retry after this point returns it and never touches the slot again.
      writeSignedMarker(files.result, files.about('result'), outcome);
      // Leave the worktree clean for the next experiment (and for anyone looking at it); were the worker
      // to die right here, the next checkout of this slot cleans it instead.
      await cleanSlot(repo, slot, commit, config.train.setupOutputs);
      return outcome;
    } finally {
      slots.release(own);
    }
  }

  return { trainCandidate };
}

/** Brings the candidate into this worker's clone of the remote, saying it is alive while it downloads. */
async function fetchCandidate(clone: Repo, input: TrainInput, ctx: Context, beat: OnProgress): Promise<void> {
  const alive = () => beat('', 0);
  alive();
  const timer = setInterval(alive, 5000);
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
