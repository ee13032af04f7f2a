// How long an activity that waits in its task queue (scheduled while the one worker's only slot is busy)
// takes to reach that worker once the slot is free: the wait between one activity's close and the next
// one's start, from the workflow's history. A training slot goes from one training to the next this way.
import type { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { fetchChain, steps } from '../../scripts/bench/history';

const WORKFLOWS = fileURLToPath(new URL('./fanoutWorkflow.ts', import.meta.url));

/** Milliseconds from each activity's close to the next one's start; `count` activities of `ms` each. */
export async function backlogGaps(client: Client, address: string, count = 6, ms = 200): Promise<number[]> {
  const taskQueue = `backlog-${process.pid}-${Date.now()}`;
  const connection = await NativeConnection.connect({ address });
  try {
    const worker = await Worker.create({
      connection,
      taskQueue,
      workflowsPath: WORKFLOWS,
      activities: { pause: (wait: number) => new Promise<void>((resolve) => setTimeout(resolve, wait)) },
      maxConcurrentActivityTaskExecutions: 1,
    });
    const list = await worker.runUntil(async () => {
      const handle = await client.workflow.start('fanout', {
        taskQueue,
        workflowId: taskQueue,
        args: [count, ms],
      });
      await handle.result();
      return steps(await fetchChain(client, handle.workflowId, handle.firstExecutionRunId));
    });
    const byStart = list.sort((a, b) => a.started - b.started);
    return byStart.slice(1).map((s, i) => Math.round((s.started - byStart[i]!.closed) * 1000));
  } finally {
    await connection.close();
  }
}
