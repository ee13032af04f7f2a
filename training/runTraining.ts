// The training itself, in a slot that holds the candidate and its set-up: resumed from the outcome it
// saved when a retry finds the slot as the training left it, else run for the target's budget.
import { existsSync, rmSync, statSync } from 'node:fs';
import type { TargetConfig, TrainingOutcome } from '../common/types';
import { readSignedMarker, signedMarkerText, type MarkerFields } from '../store/signedMarker';
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

/** Where the supervisor notes that the training exited 0 on its own, and what the note must say it is for. */
export interface ExitNote {
  file: string;
  fields: MarkerFields;
}

/** What the worker signs in advance for the supervisor's exit note. */
interface ExitNoteData {
  slot: string;
  /** When the training started (ms since the epoch); the note's mtime is when it ended. */
  startedAt: number;
}

/**
 * The outcome of a training whose worker died as it ended, before the worker could save it: what the
 * supervisor's exit note and the training's log say (exit 0, its summary and metric). Null without a
 * note signed for exactly this training. The note says nothing of limits: it is only written for a
 * command that exited 0 on its own, which reached none.
 */
export function endedOnItsOwn(note: ExitNote, logPath: string, config: TargetConfig): TrainingOutcome | null {
  const data = readSignedMarker<ExitNoteData>(note.file, note.fields);
  if (!data || typeof data.slot !== 'string' || typeof data.startedAt !== 'number') return null;
  let ended: number;
  try {
    ended = statSync(note.file).mtimeMs;
  } catch {
    return null;
  }
  const seconds = Math.max(0, (ended - data.startedAt) / 1000);
  return toOutcome(
    { exitCode: 0, signal: null, timedOut: false, cancelled: false, seconds },
    logPath,
    config,
    data.slot,
    [],
  );
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
  /** Where the supervisor notes the training's end, should the worker die before saveTrained. */
  exitNote: ExitNote;
}

/** The training's outcome; null when it was cancelled. */
export async function runTraining(
  at: SlotRun,
  confined: Confinement,
  run: TrainingRun,
): Promise<TrainingOutcome | null> {
  const { slot, config } = at;
  // An earlier attempt's note would vouch for this one: it goes before this training starts.
  rmSync(run.exitNote.file, { force: true });
  const note: ExitNoteData = { slot: slot.name, startedAt: Date.now() };
  let finished: TrainingOutcome | undefined;
  const result = await runInSlot(at, confined, {
    command: run.command,
    logPath: run.logPath,
    timeoutSeconds: config.train.timeoutSeconds,
    onProgress: run.onProgress,
    exitNote: { file: run.exitNote.file, text: signedMarkerText(run.exitNote.fields, note) },
    onFinished: (done) => {
      if (done.cancelled) return;
      finished = toOutcome(done, run.logPath, config, slot.name, []);
      run.saveTrained(finished);
      // The supervisor's note stood in for the saved outcome until now (it was written before the
      // supervisor exited, so before this runs): the saved outcome, which says more, is the one to read.
      rmSync(run.exitNote.file, { force: true });
    },
  });
  if (result.cancelled) return null;
  // runSupervised calls onFinished before it returns: a training that was not cancelled has its outcome.
  return finished!;
}
