// Which run a command means: --tag, else the only running run, else the most recent one.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { existsSync } from 'node:fs';
import { runHandle } from '../client';
import { WORKFLOW_TYPE, branchName, workflowIdFor } from '../common/names';
import { Repo } from '../store/git';
import { runDir as runDirOf, readRecords } from '../store/runDirectory';
import { inspectTarget } from '../target/inspection';
import type { ExperimentRecord, RunOptions, RunStatus, RunSummary } from '../common/types';
import { RunState } from '../workflows/runState';
import { statusQuery } from '../workflows/messages';

const PREFIX = workflowIdFor('');

export async function resolveTag(client: Client, tag: string | undefined): Promise<string> {
  if (tag) return tag;
  const running: string[] = [];
  for await (const wf of client.workflow.list({
    query: `WorkflowType = '${WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'`,
  })) {
    if (wf.workflowId.startsWith(PREFIX)) running.push(wf.workflowId.slice(PREFIX.length));
  }
  if (running.length === 1) return running[0]!;
  if (running.length > 1)
    throw new Error(`${running.length} runs are running (${running.join(', ')}): say which with --tag.`);
  for await (const wf of client.workflow.list({ query: `WorkflowType = '${WORKFLOW_TYPE}'`, pageSize: 1 })) {
    if (wf.workflowId.startsWith(PREFIX)) return wf.workflowId.slice(PREFIX.length);
  }
  throw new Error(
    'No autoresearch run found on this server: start one with `autoresearch start <repo> --tag <tag>`.',
  );
}

export async function queryStatus(client: Client, tag: string): Promise<RunStatus> {
  const handle = runHandle(client, tag);
  let running: boolean;
  try {
    running = (await handle.describe()).status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      throw new Error(`No run with tag "${tag}" (workflow ${workflowIdFor(tag)}) on this server.`, {
        cause: err,
      });
    throw err;
  }
  // A finished run needs no worker: its input and result are in the history, its records in git.
  if (!running) {
    const offline = await closedRunStatus(client, tag).catch(() => null);
    if (offline) return offline;
  }
  try {
    return await handle.query(statusQuery);
  } catch (err) {
    throw new Error(
      `Could not read the status of run "${tag}": ${(err as Error).message}. Is a worker running (\`autoresearch worker\`)?`,
      { cause: err },
    );
  }
}

/** The status of a run that has ended, read without a worker; null when its target is not on this machine. */
async function closedRunStatus(client: Client, tag: string): Promise<RunStatus | null> {
  const handle = runHandle(client, tag);
  const description = await handle.describe();
  // The first execution's input names the target; every execution shares its run directory.
  const firstRunId = description.raw.workflowExecutionInfo?.firstRunId ?? undefined;
  const first = await client.workflow.getHandle(handle.workflowId, firstRunId).fetchHistory();
  const input = first.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!input) return null;
  const options = defaultPayloadConverter.fromPayload<RunOptions>(input);
  const repo = await Repo.open(options.repo);
  const dir = runDirOf(repo.commonDir, tag);
  const records = readRecords(dir);
  const summary = description.status.name === 'COMPLETED' ? ((await handle.result()) as RunSummary) : null;
  const config = await inspectTarget(repo.root, {}, records[0]?.commit).catch(() => null);
  return RunState.endedRunStatus(options, records, {
    config: config?.config ?? null,
    runDir: dir,
    branch: branchName(tag),
    phase: summary ? (summary.reason === 'stopped' ? 'stopped' : 'finished') : 'failed',
    summary,
  });
}

/** Every record when the run directory is on this machine; otherwise the recent ones the workflow keeps. */
export function allRecords(status: RunStatus): ExperimentRecord[] {
  if (status.runDir && existsSync(status.runDir)) {
    const records = readRecords(status.runDir);
    if (records.length > 0) return records;
  }
  return status.recent;
}
