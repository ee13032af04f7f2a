// The names client, worker and workflow must agree on: the workflow type, the default task queues, a
// run's workflow id, its git refs and the error types a failure is told apart by. Pure strings, so the
// client and the workflow bundle import them without the worker or any activity.

/** The workflow type a run is started as (its function's name in workflows/). */
export const WORKFLOW_TYPE = 'researchLoop';

/** The task queues a worker polls unless told otherwise (temporal/queues.ts reads the overrides). */
export const DEFAULT_CONTROL_TASK_QUEUE = 'autoresearch';
export const DEFAULT_TRAIN_TASK_QUEUE = 'autoresearch-gpu';

/** One run per tag: the tag is the workflow id's only variable part. */
export function workflowIdFor(tag: string): string {
  return `autoresearch-${tag}`;
}

/** The branch a run advances, one kept candidate at a time. */
export function branchName(tag: string): string {
  return `autoresearch/${tag}`;
}
export function candidateRef(tag: string, n: number): string {
  return `${candidateRefPrefix(tag)}${n}`;
}
export function candidateRefPrefix(tag: string): string {
  return `refs/autoresearch/${tag}/exp/`;
}
/**
 * A candidate replayed ahead onto the candidate in training (workflows/speculation.ts): what it trains
 * if that one is kept. Kept apart from `exp/<n>` until then, so `exp/<n>` stays the candidate on the
 * parent it was proposed on; the record step moves `exp/<n>` to it once it trained.
 */
export function speculativeRef(tag: string, n: number): string {
  return `${speculativeRefPrefix(tag)}${n}`;
}
function speculativeRefPrefix(tag: string): string {
  return `refs/autoresearch/${tag}/speculative/`;
}
/**
 * The refs whose trees count as tried: every candidate's, and every one replayed ahead (the best may
 * move to the one it was replayed onto while the record step has yet to move `exp/<n>`).
 */
export function triedRefPrefixes(tag: string): string[] {
  return [candidateRefPrefix(tag), speculativeRefPrefix(tag)];
}
/** Where a cancelled experiment's candidate is set aside: still reachable, but not counted as tried. */
export function cancelledRef(tag: string, n: number): string {
  return `refs/autoresearch/${tag}/cancelled/${n}`;
}

/** ApplicationFailure types: what the workflow (and a person reading the history) tells apart. */
export const ERROR_TYPE = {
  /** The target's or the user's fault: fails fast, the message names the fix (common/errors.ts). */
  target: 'TargetError',
  /** A proposer that cannot answer as things stand: the run pauses with the reason. */
  proposerRefused: 'ProposerRefused',
  /** The baseline could not be trained or scored: the run cannot compare anything. */
  baselineFailed: 'BaselineFailed',
  /** A stopped run's last record could not be written. */
  recordFailed: 'RecordFailed',
  /** The Anthropic API is down or rate-limited: retried, honouring retry-after. */
  anthropicUnavailable: 'AnthropicUnavailable',
  /** A later attempt of the same command proposal took over. */
  proposalSuperseded: 'ProposalSuperseded',
} as const;
