// The embedded Temporal dev server: `temporal server start-dev` with a persistent SQLite file, the Web UI
// and this project's search attributes registered. Started by `autoresearch server`, and by `npm start`
// and the tests when no server answers.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { devServerSearchAttributeFlags } from '../common/searchAttributes';
import { devServerDynamicConfigFlags } from './serverSettings';
import { findOnPath } from '../system/executables';
import { ensureTemporalCli, NO_TEMPORAL_CLI_HELP } from './cliProvisioning';
import { READY_TIMEOUT_MS, waitUntilReady } from './serverReady';

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
    ...devServerDynamicConfigFlags(),
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
    await waitUntilReady(address, {
      namespace,
      child,
      output: () => stderr,
      timeoutMs: options.readyTimeoutMs ?? READY_TIMEOUT_MS,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, uiUrl: options.headless ? null : `http://localhost:${uiPort}`, stop };
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
        extraArgs: [...devServerSearchAttributeFlags(), ...devServerDynamicConfigFlags()],
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
