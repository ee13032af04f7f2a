// The embedded Temporal dev server: `temporal server start-dev` with a persistent SQLite file, the Web UI
// and this project's search attributes registered. Started by `autoresearch server`, and by `npm start`
// and the tests when no server answers.
import { Connection } from '@temporalio/client';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { devServerSearchAttributeFlags } from '../searchAttributes';
import { ensureTemporalCli, NO_TEMPORAL_CLI_HELP } from './temporalCli';

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
  const child = spawn(cli, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  await waitUntilReady(address, child, () => stderr, options.readyTimeoutMs ?? 60_000);
  return {
    address,
    uiUrl: options.headless ? null : `http://localhost:${uiPort}`,
    stop: () => stopChild(child),
  };
}

async function waitUntilReady(address: string, child: ChildProcess, stderr: () => string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? -1));
  while (Date.now() < deadline) {
    if (exited !== null)
      throw new Error(
        `The Temporal dev server exited (code ${exited}) before it was ready: ${stderr().trim().slice(-800)}`,
      );
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return;
      } finally {
        await connection.close();
      }
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  child.kill('SIGKILL');
  throw new Error(
    `The Temporal dev server did not answer at ${address} within ${timeoutMs / 1000}s: ${stderr().trim().slice(-800)}`,
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
