// Errors that are the target's or the user's fault. They fail fast (non-retryable) with a message that
// names the problem and the fix; everything else is an infrastructure error that Temporal retries.
import { ApplicationFailure } from '@temporalio/common';

export function targetError(message: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type: 'TargetError', nonRetryable: true });
}

export function isTargetError(err: unknown): boolean {
  return err instanceof ApplicationFailure && err.type === 'TargetError';
}
