// The target's separate evaluation (an [eval] command), run in the slot after a training that finished
// cleanly: it supplies the metric, and it runs the candidate's model code, so it is confined the same way.
import type { TargetConfig, TrainingOutcome } from '../common/types';
import { withEvaluation } from './outcome';
import { sandboxFor } from './sandboxFor';
import { cleanForEvaluation, freshPycachePrefix, modifiedInSlot } from './slot';
import { runInSlot, type OnProgress, type SlotRun } from './slotRun';

/**
 * Whether `outcome` goes on to the evaluation: the target has one, and the training ran to the end, in
 * time, without touching a frozen file (checked before: a training that edited the evaluation is never
 * scored).
 */
export function evaluates(outcome: TrainingOutcome, config: TargetConfig): boolean {
  return (
    Boolean(config.eval) &&
    !outcome.setupFailed &&
    outcome.exitCode === 0 &&
    !outcome.timedOut &&
    outcome.frozenModified.length === 0
  );
}

/** The training's outcome with the evaluation's metric; null when it was cancelled. */
export async function runEvaluation(
  at: SlotRun,
  commit: string,
  trained: TrainingOutcome,
  evalLog: string,
  onProgress: OnProgress,
): Promise<TrainingOutcome | null> {
  const { repo, config, slot } = at;
  const evaluation = config.eval!;
  // The evaluation reads the commit, the set-up's outputs and the declared artifacts, nothing else the
  // training left (a shadow module, a forged byte-code file); a config that declares no artifacts
  // (an earlier version's) keeps what the training wrote, its checkpoint being somewhere in it.
  freshPycachePrefix(slot);
  if (evaluation.artifacts)
    await cleanForEvaluation(repo, slot, commit, [
      ...(config.train.setupOutputs ?? []),
      ...evaluation.artifacts,
    ]);
  const evaluated = await runInSlot(at, sandboxFor(at, 'training'), {
    command: evaluation.command,
    logPath: evalLog,
    timeoutSeconds: evaluation.timeoutSeconds,
    onProgress,
  });
  if (evaluated.cancelled) return null;
  const outcome = withEvaluation(trained, evaluated, evalLog, config);
  // The evaluation runs the candidate's model code too: what it leaves behind is checked the same way.
  outcome.frozenModified = await modifiedInSlot(repo, slot, config.files.frozen);
  return outcome;
}
