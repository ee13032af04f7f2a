// Following a run from outside: poll its status query and report each change once.
import type { WorkflowHandle } from '@temporalio/client';
import { statusQuery } from '../workflows/messages';
import type { ExperimentRecord, RunStatus } from '../common/types';

export interface WatchCallbacks {
  /** Each newly finished experiment, in order. */
  onExperiment?: (record: ExperimentRecord, status: RunStatus) => void;
  /** Every poll. */
  onStatus?: (status: RunStatus) => void | Promise<void>;
}

/** Polls until the workflow closes; resolves with its result (or rejects with its failure). */
export async function followRun<T>(
  handle: WorkflowHandle,
  callbacks: WatchCallbacks,
  everyMs = 1000,
): Promise<T> {
  let seen = -1;
  const result = handle.result() as Promise<T>;
  let closed = false;
  result.then(
    () => (closed = true),
    () => (closed = true),
  );
  const poll = async () => {
    try {
      const status = await handle.query(statusQuery);
      await callbacks.onStatus?.(status);
      for (const record of status.recent) {
        if (record.n > seen) {
          seen = record.n;
          callbacks.onExperiment?.(record, status);
        }
      }
    } catch {
      // No worker is answering queries right now (restarting); the next poll tries again.
    }
  };
  while (!closed) {
    await poll();
    await Promise.race([new Promise((r) => setTimeout(r, everyMs)), result.catch(() => {})]);
  }
  await poll(); // what finished between the last poll and the close
  return result;
}
