// How long the training step may take in all (its start-to-close timeout): the sum of the bounds of
// every part it runs (a slot's set-up, the training, the evaluation, the fetch of the candidate), so a
// step that is slow but within each part's own timeout is never cut short and retried. Each part's own
// timeout ends it first, with a message saying which part was slow.
import type { TargetConfig } from './types';

/** A slot's set-up commands (`uv sync`, data preparation) get this long unless the target says otherwise. */
export const SETUP_TIMEOUT_SECONDS = 30 * 60;
/** One git transfer (a fetch or a push to the run's remote) gets this long. */
export const GIT_TRANSFER_TIMEOUT_SECONDS = 15 * 60;
/** Checkout, clean-up, the frozen files' checks, and a killed process group's grace. */
const STEP_MARGIN_SECONDS = 10 * 60;

export function setupTimeoutSeconds(config: TargetConfig): number {
  return config.train.setupTimeoutSeconds ?? SETUP_TIMEOUT_SECONDS;
}

/** The training step's bound: set-up + training + evaluation (+ the fetch with a remote) + a margin. */
export function trainStepSeconds(config: TargetConfig, remote: boolean): number {
  return (
    setupTimeoutSeconds(config) +
    config.train.timeoutSeconds +
    (config.eval?.timeoutSeconds ?? 0) +
    // By SHA, then by the run's refs (fetchCommit's two tries).
    (remote ? 2 * GIT_TRANSFER_TIMEOUT_SECONDS : 0) +
    STEP_MARGIN_SECONDS
  );
}
