// Limits on what one training may take of the worker's machine: processes and memory (a cgroup, where
// the kernel gives one: training/cgroups.ts), the size of any file it writes (RLIMIT_FSIZE) and the
// disk's free space (a watchdog in the supervisor), so a fork bomb, a memory grab or a filled disk ends
// that training, not the machine, and the outcome says which limit stopped it.
import { statfsSync } from 'node:fs';
import { totalmem } from 'node:os';
import type { SandboxConfig, TrainingOutcome } from '../common/types';
import { TrainingCgroup, cgroupRoot, cgroupSupport, markActive } from './cgroups';
import { shellWord } from '../system/shellWord';

export interface SandboxLimits {
  /** Most processes and threads at once in the training's tree. */
  maxProcesses: number;
  /** Memory of the whole tree, MiB (its scratch /tmp included: tmpfs pages are memory). */
  memoryMb?: number;
  /** Largest file it may write, MiB. */
  maxFileMb?: number;
  /** Free space the worktree's disk must keep, MiB (default: diskReserveMb). */
  minFreeDiskMb?: number;
}

export type LimitReached = NonNullable<TrainingOutcome['limitReached']>;

/**
 * The limits of a target's trainings and evaluations, from its `[sandbox]`. The set-up installs
 * packages (a wheel is a large file, rightly), so it gets the processes and memory bound only.
 */
export function limitsFor(config: SandboxConfig, use: 'setup' | 'training'): SandboxLimits {
  return {
    maxProcesses: config.maxProcesses,
    ...(config.memoryMb !== undefined ? { memoryMb: config.memoryMb } : {}),
    ...(use === 'training' && config.maxFileMb !== undefined ? { maxFileMb: config.maxFileMb } : {}),
  };
}

/**
 * The disk space a training must leave free: AUTORESEARCH_MIN_FREE_DISK_MB on the worker, else the
 * lesser of 1 GiB and 5% of the file system. The worker must still write its logs, results and records
 * when a training has filled the disk; 1 GiB is far more than those need, and 5% keeps a small disk
 * (a CI box, a 20 GB volume) usable by trainings at all.
 */
export function diskReserveMb(dir: string, env: NodeJS.ProcessEnv = process.env): number {
  const set = Number(env.AUTORESEARCH_MIN_FREE_DISK_MB);
  if (Number.isFinite(set) && set >= 0 && env.AUTORESEARCH_MIN_FREE_DISK_MB !== '') return set;
  const fs = statfsSync(dir);
  return Math.min(1024, Math.floor((fs.blocks * fs.bsize * 0.05) / 2 ** 20));
}

/**
 * The size of each of the sandbox's scratch file systems (/tmp, /run, the hidden home), MiB. Unbounded,
 * tmpfs takes half the machine's memory; a quarter (at most 4 GiB) holds any cache a training writes
 * there (compiled kernels, say), and never more than the training's own memory limit, which its tmpfs
 * pages count against anyway.
 */
export function scratchSizeMb(limits: SandboxLimits | undefined): number {
  const quarter = Math.min(4096, Math.floor(totalmem() / 4 / 2 ** 20));
  return Math.max(16, Math.min(quarter, limits?.memoryMb ?? Infinity));
}

/** The line that ends a training's log when a limit stopped it. */
export function limitMessage(limit: LimitReached, limits: SandboxLimits & { minFreeDiskMb: number }): string {
  switch (limit) {
    case 'memory':
      return `killed: memory limit ${limits.memoryMb} MiB reached (the cgroup's OOM killer)`;
    case 'processes':
      return `stopped: ${limits.maxProcesses} processes, the sandbox's limit`;
    case 'disk':
      return `killed: the disk's free space fell below ${limits.minFreeDiskMb} MiB`;
    case 'file-size':
      return `a file grew past max_file_mb ${limits.maxFileMb}`;
  }
}

const SIGXFSZ_EXIT = 128 + 25;

/**
 * Whether the training failed on the file-size limit: killed by SIGXFSZ (the default for a program that
 * does not ignore it), or the error a write past it returns (EFBIG, "File too large"; Python ignores
 * SIGXFSZ and raises it) in its last output. A candidate that prints the text only mislabels its own crash.
 */
export function fileSizeReached(exitCode: number | null, signal: string | null, tail: string): boolean {
  return exitCode === SIGXFSZ_EXIT || signal === 'SIGXFSZ' || /File too large|EFBIG/.test(tail);
}

/** What enforces one training's limits: the argv prefix that enters them, and the cgroup to read and remove. */
export interface EnforcedLimits {
  /** Goes before the sandbox (or the command): a shell that enters the cgroup, sets RLIMIT_FSIZE, execs on. */
  prefix: string[];
  cgroup?: TrainingCgroup;
}

const warned = new Set<string>();

/**
 * Makes one training's cgroup (the slot names it) and the prefix that puts the training in it. Where no
 * cgroup can be had, says so once per worker process (and cgroup root) and goes on without: a training
 * is never refused for it.
 */
export async function enforceLimits(
  limits: SandboxLimits,
  slot: string,
  warn: (line: string) => void = console.warn,
): Promise<EnforcedLimits> {
  const root = cgroupRoot();
  const notEnforced = (why: string, what: string) => {
    if (warned.has(root)) return;
    warned.add(root);
    warn(
      `sandbox limits not enforced on this machine: ${why} (${what}); disk and file-size limits still apply`,
    );
  };
  const support = cgroupSupport(root);
  let cgroup: TrainingCgroup | undefined;
  if (!support.ok) notEnforced(support.why, 'processes, memory');
  else {
    const h = support.hierarchy;
    if (h.version === 1 && h.why) notEnforced(h.why, h.pids ? 'memory' : 'processes');
    try {
      cgroup = await TrainingCgroup.create(h, slot, limits);
      markActive(cgroup, true);
    } catch (err) {
      notEnforced(`cannot make a training's cgroup (${(err as Error).message})`, 'processes, memory');
    }
  }
  return { prefix: limitPrefix(cgroup?.procsFiles ?? [], limits.maxFileMb), ...(cgroup ? { cgroup } : {}) };
}

/** Kills what is left in the training's cgroup and removes it. */
export async function releaseLimits(enforced: EnforcedLimits): Promise<void> {
  if (!enforced.cgroup) return;
  await enforced.cgroup.destroy();
  markActive(enforced.cgroup, false);
}

/**
 * The shell that enters the cgroup by writing its own pid, sets the file-size limit, then execs the
 * sandbox: race-free, since nothing of the candidate's runs before the exec, and every process it starts
 * after inherits both (bwrap's cgroup namespace changes what it sees, not where it is). The supervisor
 * itself stays outside, so the OOM killer or the process limit never takes the one reporting on them.
 * bash, not sh: `ulimit -f` counts 1024-byte blocks in bash (512 in dash), and both soft and hard
 * limits are set, so the candidate cannot raise it again.
 */
function limitPrefix(procsFiles: string[], maxFileMb: number | undefined): string[] {
  const steps = procsFiles.map((f) => `echo $$ > ${shellWord(f)}`);
  if (maxFileMb !== undefined) steps.push(`ulimit -f ${Math.round(maxFileMb * 1024)}`);
  if (steps.length === 0) return [];
  return ['/bin/bash', '-c', `${steps.join(' && ')} && exec "$@"`, 'autoresearch-limits'];
}
