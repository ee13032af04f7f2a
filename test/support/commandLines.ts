// The command lines a person uses, run as real processes against a test server: the project's own CLI,
// the stock `temporal` CLI, and a worker process (which a test can SIGKILL).
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { findTemporalCli } from '../../temporal/cliProvisioning';

const run = promisify(execFile);
export const AUTORESEARCH_CLI = fileURLToPath(new URL('../../bin/autoresearch.js', import.meta.url));

/** `autoresearch <args>` pointed at the server at `address`; resolves with its stdout. */
export async function autoresearch(address: string, args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [AUTORESEARCH_CLI, ...args], {
    env: { ...process.env, TEMPORAL_ADDRESS: address },
  });
  return stdout;
}

/** `temporal <args> --address <address>` with the stock CLI that `npm test` installs. */
export async function temporal(address: string, args: string[]): Promise<string> {
  const cli = findTemporalCli();
  assert.ok(cli, 'npm test installs the temporal CLI');
  const { stdout } = await run(cli, [...args, '--address', address]);
  return stdout;
}

/** An `autoresearch worker [args]` process polling the given task queues. */
export function spawnWorker(
  address: string,
  queues: { taskQueue: string; trainTaskQueue: string },
  stdio: StdioOptions = ['ignore', 'ignore', 'inherit'],
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): ChildProcess {
  return spawn(process.execPath, [AUTORESEARCH_CLI, 'worker', ...args], {
    env: {
      ...process.env,
      ...env,
      TEMPORAL_ADDRESS: address,
      AUTORESEARCH_TASK_QUEUE: queues.taskQueue,
      AUTORESEARCH_TRAIN_TASK_QUEUE: queues.trainTaskQueue,
    },
    stdio,
  });
}
