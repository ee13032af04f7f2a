// The real Temporal dev server for tests: the one `npm test` started (TEMPORAL_ADDRESS), or one of
// our own when a test file is run alone. Workers run inside the test process on unique task queues.
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { mkdtempSync } from 'node:fs';
import { after, before } from 'node:test';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startDevServer, type DevServer } from '../../temporal/devServer';
import { installQuietRuntime } from '../../temporal/logging';
import { createWorkers, runWorkers, type WorkerSetup } from '../../worker';
import { waitFor } from './waitFor';

installQuietRuntime();

let shared: Promise<{ address: string; stop: () => Promise<void> }> | undefined;

export function freePort(): number {
  return 20000 + Math.floor(Math.random() * 20000);
}

/** A dev server of the test's own; `ui: true` also serves the Web UI (on port + 1000). */
export async function startOwnServer(
  dbFile?: string,
  port = freePort(),
  options: { ui?: boolean } = {},
): Promise<DevServer> {
  const db = dbFile ?? path.join(mkdtempSync(path.join(tmpdir(), 'ar-temporal-')), 'temporal.sqlite');
  return startDevServer({ port, dbFile: db, headless: !options.ui });
}

/** The address of a running test server. */
export async function testServer(): Promise<string> {
  if (process.env.TEMPORAL_ADDRESS) return process.env.TEMPORAL_ADDRESS;
  shared ??= startOwnServer().then((s) => ({ address: s.address, stop: s.stop }));
  return (await shared).address;
}

export async function stopOwnServer(): Promise<void> {
  if (shared) await (await shared).stop();
}

export async function testClient(address: string): Promise<Client> {
  return new Client({ connection: await Connection.connect({ address }) });
}

let counter = 0;
/** Waits until `count` workers poll the activity task queue `queue` (training workers that came up). */
export function activityPollers(client: Client, queue: string, count: number): Promise<true> {
  return waitFor(`${count} workers to poll ${queue}`, async () => {
    const { pollers } = await client.workflowService.describeTaskQueue({
      namespace: 'default',
      taskQueue: { name: queue },
      taskQueueType: 2, // activity
    });
    return (pollers ?? []).length >= count ? true : undefined;
  });
}

export function uniqueQueues(name: string): { taskQueue: string; trainTaskQueue: string } {
  const id = `${name}-${process.pid}-${Date.now()}-${counter++}`;
  return { taskQueue: `t-${id}`, trainTaskQueue: `t-${id}-gpu` };
}

export interface RunningWorkers {
  stop(): Promise<void>;
}

/** Control and training workers in this process, until stop(). */
export async function startWorkers(
  address: string,
  setup: Omit<WorkerSetup, 'connection' | 'namespace'>,
): Promise<RunningWorkers> {
  const connection = await NativeConnection.connect({ address });
  const workers: Worker[] = await createWorkers({ connection, namespace: 'default', ...setup });
  const running = runWorkers(workers);
  return {
    async stop() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await running;
      await connection.close();
    },
  };
}

export interface Harness {
  address: string;
  client: Client;
  queues: { taskQueue: string; trainTaskQueue: string };
  /**
   * Lets the harness's workers run `command` as the command proposer's (and hand it the secrets named),
   * as `autoresearch worker --agent-command <command> --pass-env <names>` would; returns the command.
   * A worker checks each proposal against what is allowed at that moment, so a test may allow a command
   * after its workers started.
   */
  allowAgent(command: string, passEnv?: string[]): string;
}

/**
 * For a describe block: a client and in-process workers on task queues of its own, started before its
 * tests and stopped after them. The fields are filled in by the time the tests run.
 */
export function useHarness(
  name: string,
  extra: () => Promise<Partial<WorkerSetup>> = async () => ({}),
): Harness {
  // Handed to the workers as they are, so that what allowAgent adds later is seen by them.
  const agentCommands: string[] = [];
  const passEnv: string[] = [];
  const harness: Harness = {
    address: '',
    client: undefined as unknown as Client,
    queues: uniqueQueues(name),
    allowAgent(command, names = []) {
      agentCommands.push(command);
      passEnv.push(...names);
      return command;
    },
  };
  let workers: RunningWorkers | undefined;
  before(async () => {
    harness.address = await testServer();
    harness.client = await testClient(harness.address);
    const setup = await extra();
    agentCommands.push(...(setup.agentCommands ?? []));
    passEnv.push(...(setup.passEnv ?? []));
    workers = await startWorkers(harness.address, { ...harness.queues, ...setup, agentCommands, passEnv });
  });
  after(async () => {
    await workers?.stop();
    await harness.client?.connection.close();
  });
  return harness;
}
