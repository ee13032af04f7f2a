// The training itself, in a slot that holds the candidate and its set-up: resumed from the outcome it
// saved when a retry finds the slot as the training left it, else run for the target's budget.
import { existsSync } from 'node:fs';
import type { TrainingOutcome } from '../common/types';
import { toOutcome } from './outcome';
import type { Confinement } from './sandboxFor';
import { runInSlot, type OnProgress, type SlotRun } from './slotRun';

/**
 * The saved outcome of a training that ran to completion, when a retry can build on it: the same
 * candidate, trained in this slot, whose worktree is still at that commit (the evaluation needs what the
 * training wrote there). Otherwise null, and the candidate trains again.
 */
export async function resumable(
  at: SlotRun,
  saved: TrainingOutcome | null,
  commit: string,
): Promise<TrainingOutcome | null> {
  const { repo, slot } = at;
  if (!saved || saved.slot !== slot.name || !existsSync(slot.worktree)) return null;
  const head = await repo.rawIn(slot.worktree, ['rev-parse', 'HEAD']).catch(() => '');
  return head.trim() === commit ? saved : null;
}

export interface TrainingRun {
  command: string;
  logPath: string;
  onProgress: OnProgress;
  /**
   * Saves the outcome the moment the training ends, before the clean-up after it: a worker that dies in
   * between must find it, or a finished training would run again. Not called for a cancelled one.
   */
  saveTrained: (outcome: TrainingOutcome) => void;
}

/** The training's outcome; null when it was cancelled. */
export async function runTraining(
  at: SlotRun,
  confined: Confinement,
  run: TrainingRun,
): Promise<TrainingOutcome | null> {
  const { slot, config } = at;
  let finished: TrainingOutcome | undefined;
  const result = await runInSlot(at, confined, {
    command: run.command,
    logPath: run.logPath,
    timeoutSeconds: config.train.timeoutSeconds,
    onProgress: run.onProgress,
    onFinished: (done) => {
      finished = toOutcome(done, run.logPath, config, slot.name, []);
      if (!done.cancelled) run.saveTrained(finished);
    },
  });
  if (result.cancelled) return null;
  return finished ?? toOutcome(result, run.logPath, config, slot.name, []);
}
