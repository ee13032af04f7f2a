// The embedded Temporal dev server: `temporal server start-dev` with a persistent SQLite file, the Web UI
// and this project's search attributes registered. Started by `autoresearch server`, and by `npm start`
// and the tests when no server answers.
import { Connection } from '@temporalio/client';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ALL_SEARCH_ATTRIBUTES, devServerSearchAttributeFlags } from '../common/searchAttributes';
import { findOnPath } from '../system/executables';
import { ensureTemporalCli, NO_TEMPORAL_CLI_HELP } from './cliProvisioning';

export interface DevServerOptions {
  port: number;
  /** Web UI port; default port + 1000 (7233 -> 8233, as the CLI does). */
  uiPort?: number;
  /** SQLite file; the run history survives restarts of the server. */
  dbFile: string;
  headless?: boolean;
  namespace?: string;
  /** Where the server's own output goes (default: discarded). */
  logFile?: string;
  log?: (line: string) => void;
  readyTimeoutMs?: number;
}

export interface DevServer {
  address: string;
  uiUrl: string | null;
  stop(): Promise<void>;
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const log = options.log ?? (() => {});
  const address = `127.0.0.1:${options.port}`;
  const uiPort = options.uiPort ?? options.port + 1000;
  mkdirSync(path.dirname(options.dbFile), { recursive: true });
  const cli = await ensureTemporalCli(log);
  if (!cli) return startWithSdkDownload(options, address, uiPort, log);

  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--ui-port',
    String(uiPort),
    '--db-filename',
    options.dbFile,
    '--namespace',
    options.namespace ?? 'default',
    '--log-level',
    'error',
    ...devServerSearchAttributeFlags(),
    ...(options.headless ? ['--headless'] : []),
  ];
  // However this process ends, the server it started does not outlive it: on exit (an error,
  // process.exit) it is killed here; if this process is SIGKILLed, the kernel kills it (setpriv
  // --pdeathsig, util-linux, where present; it execs the CLI, so the server keeps its pid).
  const setpriv = process.platform === 'linux' ? findOnPath('setpriv') : null;
  const child = setpriv
    ? spawn(setpriv, ['--pdeathsig', 'KILL', '--', cli, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn(cli, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const stop = async () => {
    await stopChild(child);
    process.removeListener('exit', killOnExit);
  };
  const namespace = options.namespace ?? 'default';
  try {
    await waitUntilReady(address, namespace, child, () => stderr, options.readyTimeoutMs ?? READY_TIMEOUT_MS);
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, uiUrl: options.headless ? null : `http://localhost:${uiPort}`, stop };
}

/**
 * How long a new server may take to be usable. A fresh SQLite file on a loaded 2-core machine takes
 * tens of seconds to create its schema and the namespace; a server that fails exits, and is seen at once.
 */
export const READY_TIMEOUT_MS = 300_000;

/**
 * Ready means usable, not only answering: the frontend answers, the namespace is registered and the
 * project's search attributes are listed on it (a run started before that fails on them).
 */
async function waitUntilReady(
  address: string,
  namespace: string,
  child: ChildProcess,
  stderr: () => string,
  timeoutMs: number,
) {
  const deadline = Date.now() + timeoutMs;
  let exited: string | null = child.exitCode !== null ? `code ${child.exitCode}` : null;
  child.once('exit', (code, signal) => (exited = code !== null ? `code ${code}` : `signal ${signal}`));
  let waiting = 'the frontend to answer';
  let lastError = '';
  let pause = 250;
  while (Date.now() < deadline) {
    if (exited !== null)
      throw new Error(
        `The Temporal dev server exited (${exited}) before it was ready: ${stderr().trim().slice(-800) || 'it printed nothing'}`,
      );
    let connection: Connection | undefined;
    try {
      waiting = 'the frontend to answer';
      connection = await Connection.connect({ address, connectTimeout: 5000 });
      await connection.workflowService.getSystemInfo({});
      waiting = `namespace "${namespace}" to be registered`;
      await connection.workflowService.describeNamespace({ namespace });
      waiting = `the search attributes to be listed on namespace "${namespace}"`;
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
      const missing = ALL_SEARCH_ATTRIBUTES.map((key) => key.name).filter(
        (name) => !customAttributes?.[name],
      );
      if (missing.length === 0) return;
      lastError = `not listed yet: ${missing.join(', ')}`;
    } catch (err) {
      lastError = (err as Error).message.split('\n')[0]!;
    } finally {
      await connection?.close().catch(() => {});
    }
    await new Promise((r) => setTimeout(r, pause));
    pause = Math.min(pause * 2, 2000);
  }
  throw new Error(
    `The Temporal dev server at ${address} was not ready within ${timeoutMs / 1000}s: still waiting for ${waiting} ` +
      `(last answer: ${lastError || 'none'}). Its output: ${stderr().trim().slice(-800) || 'none'}`,
  );
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Machines with internet and no Go: the SDK downloads the same CLI and runs it. */
async function startWithSdkDownload(
  options: DevServerOptions,
  address: string,
  uiPort: number,
  log: (line: string) => void,
): Promise<DevServer> {
  log('No Temporal CLI here; trying the SDK download of the dev server...');
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  try {
    const env = await TestWorkflowEnvironment.createLocal({
      server: {
        ip: '127.0.0.1',
        port: options.port,
        ui: !options.headless,
        uiPort,
        dbFilename: options.dbFile,
        namespace: options.namespace ?? 'default',
        extraArgs: devServerSearchAttributeFlags(),
      },
    });
    return {
      address,
      uiUrl: options.headless ? null : `http://localhost:${uiPort}`,
      stop: () => env.teardown(),
    };
  } catch (err) {
    throw new Error(
      `${NO_TEMPORAL_CLI_HELP} (The SDK download failed too: ${(err as Error).message.split('\n')[0]})`,
      { cause: err },
    );
  }
}
