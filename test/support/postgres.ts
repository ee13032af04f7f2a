// A private PostgreSQL cluster for a test: Debian's packages (installed with apt-get when they are
// missing and this is root, as bubblewrap is), `initdb` into a temporary folder, the server on a free
// loopback port with its socket in that folder. Postgres refuses to run as root, so as root it runs as
// the `postgres` user the package creates. It dies with this process (setpriv --pdeathsig).
import { execa } from 'execa';
import { spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findOnPath, isExecutable } from '../../system/executables';
import { freePorts } from './ports';

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
  pgIsready: string;
}

/** Debian keeps the server's programs off PATH, in /usr/lib/postgresql/<major>/bin: the newest there. */
const DEBIAN_ROOT = '/usr/lib/postgresql';

export function findPostgres(): PostgresBinaries | null {
  const onPath = ['initdb', 'postgres', 'pg_isready'].map(findOnPath);
  if (onPath.every(Boolean)) return { initdb: onPath[0]!, postgres: onPath[1]!, pgIsready: onPath[2]! };
  const majors = existsSync(DEBIAN_ROOT)
    ? readdirSync(DEBIAN_ROOT)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const major of majors) {
    const bin = path.join(DEBIAN_ROOT, major, 'bin');
    const found = {
      initdb: path.join(bin, 'initdb'),
      postgres: path.join(bin, 'postgres'),
      pgIsready: path.join(bin, 'pg_isready'),
    };
    if (Object.values(found).every(isExecutable)) return found;
  }
  return null;
}

/** Finds Postgres, or installs Debian's package where apt-get is there and this is root. */
export async function ensurePostgres(
  log: (line: string) => void = () => {},
): Promise<PostgresBinaries | null> {
  const found = findPostgres();
  if (found || process.getuid?.() !== 0 || !findOnPath('apt-get')) return found;
  log('installing PostgreSQL (for the Temporal server on Postgres) with apt-get ...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = await execa('apt-get', ['update', '-qq'], { env, reject: false });
  const install = await execa('apt-get', ['install', '-y', '-qq', 'postgresql'], { env, reject: false });
  if (install.exitCode !== 0)
    log(`could not install PostgreSQL: ${(install.stderr || update.stderr).trim().split('\n').slice(-1)[0]}`);
  return findPostgres();
}

export const NO_POSTGRES_HELP =
  'PostgreSQL is not installed (no initdb, postgres and pg_isready on PATH or in /usr/lib/postgresql/*/bin): ' +
  '`apt-get install postgresql` on Debian or Ubuntu (run as root with apt-get, the test installs it itself), ' +
  "or your system's package of the PostgreSQL server";

export interface PostgresCluster {
  host: string;
  port: number;
  user: string;
  password: string;
  /** The last lines of the server's log, for a failure's message. */
  logTail(): string;
  /** Stops the server and removes its folder. */
  stop(): Promise<void>;
}

/** Who runs the server: this process's user, or as root the `postgres` user (else `nobody`). */
async function serverUser(): Promise<{ uid: number; gid: number } | null> {
  if (process.getuid?.() !== 0) return null;
  for (const name of ['postgres', 'nobody']) {
    const uid = await execa('id', ['-u', name], { reject: false });
    const gid = await execa('id', ['-g', name], { reject: false });
    if (uid.exitCode === 0 && gid.exitCode === 0) return { uid: Number(uid.stdout), gid: Number(gid.stdout) };
  }
  throw new Error(
    'Running as root, with neither a `postgres` nor a `nobody` user to run PostgreSQL as (it refuses root)',
  );
}

export async function startPostgresCluster(binaries: PostgresBinaries): Promise<PostgresCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ar-postgres-'));
  const data = path.join(dir, 'data');
  const socket = path.join(dir, 'socket');
  const logFile = path.join(dir, 'postgres.log');
  const passwordFile = path.join(dir, 'password');
  const user = 'temporal';
  const password = 'temporal';
  const as = await serverUser();
  mkdirSync(data, { mode: 0o700 });
  mkdirSync(socket);
  writeFileSync(passwordFile, `${password}\n`);
  writeFileSync(logFile, '');
  if (as) {
    // The server's user must reach its folders through this one (mkdtemp makes it 0700, root's).
    chmodSync(dir, 0o711);
    for (const owned of [data, socket, passwordFile, logFile]) chownSync(owned, as.uid, as.gid);
  }
  const asUser = as ? { uid: as.uid, gid: as.gid } : {};
  // The role Temporal connects as (a superuser, as the Postgres image's POSTGRES_USER is) with a
  // password, asked for on every connection, TCP or socket.
  const init = await execa(
    binaries.initdb,
    ['-D', data, '-U', user, `--pwfile=${passwordFile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--locale=C'],
    { ...asUser, cwd: dir, reject: false, all: true },
  );
  rmSync(passwordFile, { force: true });
  if (init.exitCode !== 0)
    throw new Error(`initdb failed (${init.exitCode}): ${init.all?.trim().slice(-1500)}`);

  const [port] = await freePorts(1);
  const args = [
    '-D',
    data,
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    `port=${port}`,
    '-c',
    `unix_socket_directories=${socket}`,
    // A cluster thrown away after the test, which only the Temporal server (not Postgres) is restarted
    // in: flushing every commit to disk would only slow a loaded 2-core machine.
    '-c',
    'fsync=off',
  ];
  // Its output to a file, not a pipe: the log is still there to read when the server fails.
  const out = openSync(logFile, 'a');
  const options = { ...asUser, cwd: dir, stdio: ['ignore', out, out] as ['ignore', number, number] };
  const setpriv = findOnPath('setpriv');
  const child: ChildProcess = setpriv
    ? spawn(setpriv, ['--pdeathsig', 'KILL', '--', binaries.postgres, ...args], options)
    : spawn(binaries.postgres, args, options);
  closeSync(out);
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const cluster: PostgresCluster = {
    host: '127.0.0.1',
    port: port!,
    user,
    password,
    logTail: () => readTail(logFile),
    async stop() {
      await stopGently(child, 'SIGINT'); // Postgres's "fast" shutdown
      process.removeListener('exit', killOnExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitForPostgres(binaries, cluster, child);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

async function waitForPostgres(binaries: PostgresBinaries, cluster: PostgresCluster, child: ChildProcess) {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`PostgreSQL exited before it was ready: ${cluster.logTail() || 'it logged nothing'}`);
    const ready = await execa(
      binaries.pgIsready,
      ['-h', cluster.host, '-p', String(cluster.port), '-U', cluster.user],
      { reject: false },
    );
    if (ready.exitCode === 0) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `PostgreSQL on ${cluster.host}:${cluster.port} was not ready within 120 s: ${cluster.logTail()}`,
  );
}

function readTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().slice(-1500);
  } catch {
    return '';
  }
}

/** Sends `signal`, then SIGKILL after 20 s; resolves once the process is gone. */
export function stopGently(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill(signal);
  });
}
