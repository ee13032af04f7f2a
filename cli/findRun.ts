// Which run a command means: --tag, else the only running run, else the most recent one.
import type { Client } from '@temporalio/client';
import { existsSync } from 'node:fs';
import { readRecords } from '../activities/record';
import { runHandle, workflowIdFor } from '../client';
import type { ExperimentRecord, RunStatus } from '../lib/types';
import { statusQuery } from '../workflows/messages';

const PREFIX = workflowIdFor('');

export async function resolveTag(client: Client, tag: string | undefined): Promise<string> {
  if (tag) return tag;
  const running: string[] = [];
  for await (const wf of client.workflow.list({
    query: `WorkflowType = 'researchLoop' AND ExecutionStatus = 'Running'`,
  })) {
    if (wf.workflowId.startsWith(PREFIX)) running.push(wf.workflowId.slice(PREFIX.length));
  }
  if (running.length === 1) return running[0]!;
  if (running.length > 1)
    throw new Error(`${running.length} runs are running (${running.join(', ')}): say which with --tag.`);
  for await (const wf of client.workflow.list({ query: `WorkflowType = 'researchLoop'`, pageSize: 1 })) {
    if (wf.workflowId.startsWith(PREFIX)) return wf.workflowId.slice(PREFIX.length);
  }
  throw new Error(
    'No autoresearch run found on this server: start one with `autoresearch start <repo> --tag <tag>`.',
  );
}

export async function queryStatus(client: Client, tag: string): Promise<RunStatus> {
  try {
    return await runHandle(client, tag).query(statusQuery);
  } catch (err) {
    const message = (err as Error).message;
    if (/not found/i.test(message))
      throw new Error(`No run with tag "${tag}" (workflow ${workflowIdFor(tag)}) on this server.`, {
        cause: err,
      });
    throw new Error(
      `Could not read the status of run "${tag}": ${message}. Is a worker running (\`autoresearch worker\`)?`,
      { cause: err },
    );
  }
}

/** Every record when the run directory is on this machine; otherwise the recent ones the workflow keeps. */
export function allRecords(status: RunStatus): ExperimentRecord[] {
  if (status.runDir && existsSync(status.runDir)) {
    const records = readRecords(status.runDir);
    if (records.length > 0) return records;
  }
  return status.recent;
}
