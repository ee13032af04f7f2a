// Errors that are the target's, the user's or the proposer's situation, not the infrastructure's. They
// fail fast (non-retryable) with a message that names the problem and the fix; everything else is an
// infrastructure error that Temporal retries.
import { ApplicationFailure } from '@temporalio/common';
import { ERROR_TYPE } from './names';

export function targetError(message: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type: ERROR_TYPE.target, nonRetryable: true });
}

export function isTargetError(err: unknown): boolean {
  return err instanceof ApplicationFailure && err.type === ERROR_TYPE.target;
}

/** A proposer that cannot answer as things stand (a refused key, no untried edit): the run pauses. */
export function proposerRefused(message: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type: ERROR_TYPE.proposerRefused, nonRetryable: true });
}
