// The sandbox a candidate's training runs in: bubblewrap (the sandbox coding agents use on Linux).
// Candidate code is hostile until proven otherwise, so inside it sees its own PID namespace (nothing of
// the worker, and the whole tree dies with the supervisor, setsid or not), no network unless asked, the
// file system read-only except the slot's worktree and a scratch /tmp, and the home directory hidden but
// for the tool installations the training needs to start (an interpreter on PATH, uv, caches).
import { execa } from 'execa';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { findOnPath } from '../system/executables';
import { autoresearchHome } from '../system/home';
import { slotsBase } from '../store/runDirectory';

export interface SandboxSpec {
  /** The slot's worktree: the only place the training may write besides its scratch /tmp. */
  worktree: string;
  /** Let the training reach the network (the set-up's downloads); off for candidate code. */
  network?: boolean;
  /**
   * Let it write the home's ~/.cache (the set-up fills it: uv's cache, data sets). Candidate code reads it
   * only, and gets a scratch uv cache, so it cannot poison what a later set-up or evaluation reads.
   */
  writableCache?: boolean;
  /** Extra host paths visible read-only (data the target keeps outside the worktree). */
  readPaths?: string[];
  /** Extra host paths writable (the tests' gates). */
  writePaths?: string[];
  /** Paths inside the worktree the training may read but not change (frozen files, the set-up's outputs). */
  readOnlyInWorktree?: string[];
  /**
   * The target's git directory (the worktree's common dir): shown read-only wherever it lives, so git
   * works in the training (`git rev-parse HEAD`), with the run's records under it hidden.
   */
  gitCommonDir?: string;
  /** The home directory to hide (default: this process's). */
  home?: string;
  /** The tool's own folder to hide but for its tools/ (default: AUTORESEARCH_HOME or ~/.autoresearch). */
  autoresearchHome?: string;
  /** Every slot's folder, hidden but for this slot's worktree (default: slotsBase()). */
  slotsDir?: string;
  /** The PATH the training gets: tool installations on it under the home directory stay visible. */
  pathVariable?: string;
  /** Size of each scratch tmpfs (/tmp, /run, the hidden home), MiB (training/sandboxLimits.ts scratchSizeMb). */
  scratchMb?: number;
}

/** Directories of the home that hold secrets: never shown to a training, even if on PATH. */
const SECRET_HOME_DIRS = new Set([
  '.ssh',
  '.aws',
  '.gnupg',
  '.docker',
  '.kube',
  '.config',
  '.netrc',
  '.git-credentials',
]);

/** How to run without the sandbox, for every message that says it cannot be built. */
export const WITHOUT_SANDBOX =
  'or start the worker with --no-sandbox (or AUTORESEARCH_SANDBOX=off) to run candidate code unsandboxed, ' +
  'as its own user with access to what that user can reach';

export const NO_BUBBLEWRAP_HELP =
  'the training sandbox needs bubblewrap (bwrap): install it (Debian/Ubuntu: apt-get install bubblewrap), ' +
  WITHOUT_SANDBOX;

/**
 * Whether a worker sandboxes candidate code: on unless its operator turns it off, with the flag
 * (--sandbox / --no-sandbox) over AUTORESEARCH_SANDBOX. Never a run's choice: workflow input does not
 * reach it.
 */
export function sandboxWanted(flag: boolean | undefined, env = process.env.AUTORESEARCH_SANDBOX): boolean {
  if (flag !== undefined) return flag;
  if (env === undefined || env === '') return true;
  if (env === 'on' || env === 'off') return env === 'on';
  throw new Error(
    `AUTORESEARCH_SANDBOX="${env}" is not a choice: set it to "on" or "off" (or unset it: on).`,
  );
}

/**
 * Installs bubblewrap where it is missing and the machine lets us (root with apt-get, as on a fresh
 * Debian or Ubuntu box), so `npm test` and a sandboxed worker need nothing done by hand. Returns the
 * bwrap path, or null when it is still missing (the caller says what to do).
 */
export async function ensureBubblewrap(log: (line: string) => void = () => {}): Promise<string | null> {
  const found = findOnPath('bwrap');
  if (found || process.getuid?.() !== 0 || !findOnPath('apt-get')) return found;
  log('installing bubblewrap (the training sandbox) with apt-get ...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = await execa('apt-get', ['update', '-qq'], { env, reject: false });
  const install = await execa('apt-get', ['install', '-y', '-qq', 'bubblewrap'], { env, reject: false });
  if (install.exitCode !== 0)
    log(`could not install bubblewrap: ${(install.stderr || update.stderr).trim().split('\n').slice(-1)[0]}`);
  return findOnPath('bwrap');
}

/** The bwrap executable, or an error that names the fix. */
export function bubblewrap(): string {
  const found = findOnPath('bwrap');
  if (!found) throw new Error(NO_BUBBLEWRAP_HELP);
  return found;
}

/**
 * Checks that bwrap can build a sandbox on this machine (user and PID namespaces may be refused in a
 * container); throws bwrap's own message with the fix.
 */
export function checkSandbox(bwrap = bubblewrap()): void {
  try {
    execFileSync(bwrap, ['--ro-bind', '/', '/', '--unshare-pid', '--unshare-net', '--', '/bin/true'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 20_000,
    });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
    throw new Error(
      `bubblewrap cannot build a sandbox on this machine: ${stderr || (err as Error).message} ` +
        '(it needs PID and network namespaces: run the worker as root or with unprivileged user namespaces ' +
        `enabled (in Docker: security_opt seccomp and apparmor unconfined), ${WITHOUT_SANDBOX})`,
      { cause: err },
    );
  }
}

/** `child` lies inside `parent` (or is it). */
function within(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * The directories under `home` that a training needs to start: where its tools on PATH are installed.
 * The tool's own folder (`autoresearchHome`: its key, clones, other runs' slots) stays hidden but for
 * its tools/ (the uv it installed), wherever it lives.
 */
export function toolDirsInHome(home: string, pathVariable: string, autoresearchHome = ''): string[] {
  const dirs = new Set<string>();
  const tools = autoresearchHome && path.join(autoresearchHome, 'tools');
  const entries = pathVariable.split(path.delimiter).filter(Boolean);
  for (const entry of entries) {
    for (const candidate of [entry, safeRealpath(entry)]) {
      if (autoresearchHome && within(autoresearchHome, candidate)) {
        if (within(tools, candidate)) dirs.add(tools);
        continue;
      }
      const rel = path.relative(home, candidate);
      if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) continue;
      const top = rel.split(path.sep)[0]!;
      if (SECRET_HOME_DIRS.has(top)) continue;
      // The project's own state (~/.autoresearch: runs, keys of the dev server) stays hidden but for its tools.
      dirs.add(top === '.autoresearch' ? path.join(home, '.autoresearch', 'tools') : path.join(home, top));
    }
  }
  // Caches the set-up filled (data sets, uv's managed interpreters) are read at training time.
  for (const extra of ['.cache', path.join('.local', 'share', 'uv')]) dirs.add(path.join(home, extra));
  return [...dirs].filter((d) => existsSync(d));
}

function safeRealpath(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/** The argv prefix that runs a command in the sandbox (the command follows it). */
export function sandboxArgs(spec: SandboxSpec, bwrap = bubblewrap()): string[] {
  const home = spec.home ?? homedir();
  const ownHome = spec.autoresearchHome ?? autoresearchHome();
  const pathVariable = spec.pathVariable ?? process.env.PATH ?? '';
  const args = [bwrap, '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc'];
  // A scratch tmpfs is memory: bounded, so writing it cannot take the machine's (bwrap 0.8 and later).
  const size = spec.scratchMb && sizesTmpfs(bwrap) ? ['--size', String(spec.scratchMb * 2 ** 20)] : [];
  // GPUs: the device nodes CUDA opens (CUDA_VISIBLE_DEVICES still picks among them).
  for (const dev of nvidiaDevices()) args.push('--dev-bind', dev, dev);
  // A fresh /tmp and /run: no agent sockets (ssh, docker, dbus) can be reached from inside.
  args.push(...size, '--tmpfs', '/tmp', ...size, '--tmpfs', '/run');
  if (home && home !== '/' && existsSync(home)) {
    args.push(...size, '--tmpfs', home);
    const cache = path.join(home, '.cache');
    if (spec.writableCache) mkdirSync(cache, { recursive: true });
    for (const dir of toolDirsInHome(home, pathVariable, ownHome))
      args.push(spec.writableCache && dir === cache ? '--bind' : '--ro-bind', dir, dir);
  }
  // The tool's folder outside the home (AUTORESEARCH_HOME=/data/...): hidden too, but for its tools.
  // Under /tmp it is hidden with the rest of the machine's /tmp; its tools are bound back all the same.
  if (!within(home, ownHome) && existsSync(ownHome)) {
    if (!within('/tmp', ownHome)) args.push('--tmpfs', ownHome);
    const tools = path.join(ownHome, 'tools');
    const onPath = pathVariable.split(path.delimiter).some((e) => e && within(tools, safeRealpath(e)));
    if (onPath && existsSync(tools)) args.push('--ro-bind', tools, tools);
  }
  // The slots' folder elsewhere (AUTORESEARCH_SLOTS_DIR): other slots' worktrees and the slot's own lock,
  // pid file and markers are not the training's to see; its worktree is bound back below.
  const slots = spec.slotsDir ?? slotsBase();
  if (
    ![home, ownHome, '/tmp'].some((hidden) => hidden && hidden !== '/' && within(hidden, slots)) &&
    existsSync(slots)
  )
    args.push('--tmpfs', slots);
  if (!spec.writableCache) args.push('--setenv', 'UV_CACHE_DIR', '/tmp/uv-cache');
  for (const p of spec.readPaths ?? []) if (existsSync(p)) args.push('--ro-bind', p, p);
  if (spec.gitCommonDir && existsSync(spec.gitCommonDir)) {
    args.push('--ro-bind', spec.gitCommonDir, spec.gitCommonDir);
    // The records, results and other slots: not the training's to read, let alone write.
    const records = path.join(spec.gitCommonDir, 'autoresearch');
    if (existsSync(records)) args.push('--tmpfs', records);
  }
  args.push('--bind', spec.worktree, spec.worktree);
  for (const p of spec.writePaths ?? []) if (existsSync(p)) args.push('--bind', p, p);
  // The worktree's .git file points git at the records: the training may not redirect it.
  for (const rel of ['.git', ...(spec.readOnlyInWorktree ?? [])]) {
    const p = path.join(spec.worktree, rel);
    if (existsSync(p)) args.push('--ro-bind', p, p);
  }
  args.push('--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try');
  if (!spec.network) args.push('--unshare-net');
  args.push(
    '--die-with-parent',
    '--cap-drop',
    'ALL',
    '--setenv',
    'TMPDIR',
    '/tmp',
    '--chdir',
    spec.worktree,
    '--',
  );
  return args;
}

const sizing = new Map<string, boolean>();

/** Whether this bwrap takes `--size` (0.8+; older ones, Ubuntu 22.04's 0.6, refuse to start with it). */
function sizesTmpfs(bwrap: string): boolean {
  let known = sizing.get(bwrap);
  if (known === undefined) {
    try {
      known = execFileSync(bwrap, ['--help'], { encoding: 'utf8', timeout: 10_000 }).includes('--size');
    } catch {
      known = false;
    }
    sizing.set(bwrap, known);
  }
  return known;
}

function nvidiaDevices(): string[] {
  try {
    return readdirSync('/dev')
      .filter((name) => name.startsWith('nvidia'))
      .map((name) => path.join('/dev', name));
  } catch {
    return [];
  }
}
