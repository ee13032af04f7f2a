// The target's set-up commands (uv sync, the data's download), run once per slot and per version of
// them: a slot's worktree keeps what they wrote across experiments.
import { createHash } from 'node:crypto';
import type { TargetConfig, TrainingOutcome } from '../common/types';
import { setupTimeoutSeconds } from '../common/trainBound';
import { readSignedMarker, writeSignedMarker, type MarkerFields } from '../store/signedMarker';
import { toOutcome } from './outcome';
import type { SupervisedResult } from './runSupervised';
import type { Confinement } from './sandboxFor';
import type { Slot } from './slot';
import { runInSlot, type OnProgress, type SlotRun } from './slotRun';

/**
 * Runs the set-up in `at`'s slot unless this version of it (its commands, and the frozen files of
 * `commit`) already ran there; null when nothing ran.
 */
export async function ensureSetup(
  at: SlotRun,
  commit: string,
  onProgress: OnProgress,
  confined: Confinement,
): Promise<SupervisedResult | null> {
  const { repo, config } = at;
  const commands = config.train.setup;
  if (commands.length === 0) return null;
  const frozen = await Promise.all(config.files.frozen.map((f) => repo.blobSha(commit, f)));
  const key = createHash('sha256').update(JSON.stringify({ commands, frozen })).digest('hex');
  // Signed too: a set-up marker a candidate forged would otherwise skip the set-up of the next version.
  const done: MarkerFields = { purpose: 'setup', slot: at.slot.dir, setup: key };
  if (readSignedMarker(at.slot.setupMarker, done) !== null) return null;
  const result = await runInSlot(at, confined, {
    command: commands.map((c) => `(${c})`).join(' && '),
    logPath: at.slot.setupLog,
    timeoutSeconds: setupTimeoutSeconds(config),
    onProgress,
  });
  if (result.exitCode === 0) writeSignedMarker(at.slot.setupMarker, done, true);
  return result;
}

/** The outcome of a candidate whose set-up failed: it never trained. */
export function setupFailure(result: SupervisedResult, slot: Slot, config: TargetConfig): TrainingOutcome {
  return { ...toOutcome(result, slot.setupLog, config, slot.name, []), setupFailed: true };
}
