// A real Temporal server on PostgreSQL, set up with the very files docker-compose.yml's jobs run:
// deploy/temporal/schema.sh (temporal-sql-tool: databases and schemas), the server on
// deploy/temporal/postgres.yaml (every port on loopback, chosen free), then deploy/temporal/setup.sh
// (the stock `temporal` CLI: namespace and search attributes). The server can be stopped and started
// again on the same database, as a restart or a deploy does.
import { execa } from 'execa';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findOnPath } from '../../system/executables';
import { waitUntilReady } from '../../temporal/serverReady';
import type { TemporalServerBinaries } from '../../temporal/serverProvisioning';
import { stopGently, type PostgresCluster } from './postgres';
import { freePorts } from './ports';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const DEPLOY_DIR = path.join(ROOT, 'deploy', 'temporal');
const NAMESPACE = 'default';
/** The frontend and the next seven ports (deploy/temporal/postgres.yaml says which is which). */
const PORTS = 8;

export interface TemporalCluster {
  address: string;
  /** deploy/temporal/schema.sh against the database; its output. */
  runSchema(): Promise<string>;
  /** deploy/temporal/setup.sh against the server; its output. */
  runSetup(): Promise<string>;
  /** Starts the server (again) and waits until it is usable: namespace and search attributes listed. */
  startServer(): Promise<void>;
  stopServer(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A server on `postgres`, schema made, started, namespace and search attributes registered. `cli` is
 * the stock `temporal` CLI that setup.sh runs.
 */
export async function startTemporalCluster(
  postgres: PostgresCluster,
  binaries: TemporalServerBinaries,
  cli: string,
): Promise<TemporalCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ar-temporal-pg-'));
  const logFile = path.join(dir, 'temporal.log');
  const [port] = await freePorts(PORTS);
  const address = `127.0.0.1:${port}`;
  // One environment for the scripts and the server: the SQL_* names are temporal-sql-tool's, which
  // postgres.yaml reads too; TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE the CLI's.
  const env = {
    ...process.env,
    PATH: [path.dirname(binaries.sqlTool), path.dirname(cli), process.env.PATH ?? ''].join(path.delimiter),
    SQL_PLUGIN: 'postgres12',
    SQL_HOST: postgres.host,
    SQL_PORT: String(postgres.port),
    SQL_USER: postgres.user,
    SQL_PASSWORD: postgres.password,
    TEMPORAL_PORT: String(port),
    TEMPORAL_LOG_LEVEL: 'warn',
    TEMPORAL_DYNAMIC_CONFIG: path.join(DEPLOY_DIR, 'dynamicconfig.yaml'),
    TEMPORAL_ADDRESS: address,
    TEMPORAL_NAMESPACE: NAMESPACE,
  };
  const log = () => {
    try {
      return readFileSync(logFile, 'utf8').trim();
    } catch {
      return '';
    }
  };
  // The server logs a line of JSON per event, a fatal one with its stack: the last fatal or error
  // line's message and error say why it stopped, where 800 characters of the log's end may not.
  const why = () => {
    const lines = log().split('\n');
    const worst = lines.filter((l) => /"level":"(fatal|error)"/.test(l)).pop();
    if (!worst) return lines.slice(-5).join('\n');
    try {
      const { msg, error } = JSON.parse(worst) as { msg?: string; error?: string };
      return `${msg ?? ''}: ${error ?? ''}`;
    } catch {
      return worst.slice(0, 800);
    }
  };
  const script = async (name: string) => {
    const result = await execa('sh', [path.join(DEPLOY_DIR, name)], { env, reject: false, all: true });
    appendFileSync(logFile, `--- ${name} (exit ${result.exitCode})\n${result.all ?? ''}\n`);
    if (result.exitCode !== 0)
      throw new Error(
        `deploy/temporal/${name} failed (exit ${result.exitCode}): ${(result.all ?? '').trim().slice(-2000)}`,
      );
    return result.all ?? '';
  };

  let server: ChildProcess | undefined;
  let killOnExit = () => {};
  const spawnServer = () => {
    const args = [
      '--root',
      ROOT,
      '--config',
      path.relative(ROOT, DEPLOY_DIR),
      '--env',
      'postgres',
      '--allow-no-auth',
      'start',
    ];
    // Output to a file: it outlives a pipe, and holds every start's lines for a failure's message.
    appendFileSync(logFile, `--- temporal-server ${args.join(' ')}\n`);
    const out = openSync(logFile, 'a');
    const options = { env, cwd: dir, stdio: ['ignore', out, out] as ['ignore', number, number] };
    // Killed with this process however it ends (setpriv execs the server, which keeps its pid).
    const setpriv = findOnPath('setpriv');
    const child = setpriv
      ? spawn(setpriv, ['--pdeathsig', 'KILL', '--', binaries.server, ...args], options)
      : spawn(binaries.server, args, options);
    closeSync(out);
    killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    return child;
  };
  const stopServer = async () => {
    if (server) await stopGently(server, 'SIGTERM');
    process.removeListener('exit', killOnExit);
    server = undefined;
  };
  const ready = (child: ChildProcess, frontendOnly: boolean) =>
    waitUntilReady(address, {
      namespace: NAMESPACE,
      child,
      output: why,
      timeoutMs: 300_000,
      frontendOnly,
      name: 'The Temporal server on PostgreSQL',
    });

  const cluster: TemporalCluster = {
    address,
    runSchema: () => script('schema.sh'),
    runSetup: () => script('setup.sh'),
    async startServer() {
      server = spawnServer();
      await ready(server, false);
    },
    stopServer,
    async stop() {
      await stopServer();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  // Each failure's message holds the output that explains it (the script's, or the server's log).
  try {
    await cluster.runSchema();
    server = spawnServer();
    // As compose does: the setup job runs once the server answers.
    await ready(server, true);
    await cluster.runSetup();
    await ready(server, false);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
