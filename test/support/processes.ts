// Is anything still running? Read from /proc, so zombies (dead, not yet reaped) do not count.
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { slotsRoot } from '../../store/runDirectory';

function stat(pid: number | string): { state: string; pgrp: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, pgrp: Number(fields[2]) };
  } catch {
    return null;
  }
}

export function isRunning(pid: number): boolean {
  const s = stat(pid);
  return s !== null && s.state !== 'Z';
}

/**
 * Live processes whose command line holds `name` (an `exec -a <name>` marker): how a test finds what a
 * training spawned, whose pid inside the sandbox's PID namespace means nothing outside it.
 */
export function runningNamed(name: string): number[] {
  return readdirSync('/proc')
    .filter((pid) => /^\d+$/.test(pid) && Number(pid) !== process.pid)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(name) && isRunning(Number(pid));
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Live processes in a process group. */
export function runningInGroup(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      const s = stat(pid);
      return s !== null && s.pgrp === pgid && s.state !== 'Z';
    })
    .map(Number);
}

/** Processes whose working directory is inside the repo's slots (or its git dir): trainings in slot worktrees. */
export function trainingProcesses(repo: string): number[] {
  const gitDir = path.join(repo, '.git') + path.sep;
  const slots = slotsRoot(path.join(repo, '.git')) + path.sep;
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      try {
        const cwd = readlinkSync(`/proc/${pid}/cwd`);
        return (cwd.startsWith(gitDir) || cwd.startsWith(slots)) && isRunning(pid);
      } catch {
        return false;
      }
    });
}

/**
 * Whether a `python3 train.py` (the fake target's training) runs with its working directory under
 * `dir`: a worker whose home is `dir` holds a training in one of its slots.
 */
export function trainingUnder(dir: string): boolean {
  const root = path.resolve(dir) + path.sep;
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .some((pid) => {
      try {
        return (
          readlinkSync(`/proc/${pid}/cwd`).startsWith(root) &&
          readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('python3\0train.py') &&
          isRunning(Number(pid))
        );
      } catch {
        return false; // gone meanwhile
      }
    });
}

/**
 * A PATH of one new directory that links every program on the current PATH except those whose name
 * matches `without` (say, no python3): a machine that lacks them, with everything else where it was.
 */
export function pathWithout(without: RegExp): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ar-path-'));
  for (const from of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!from || !existsSync(from)) continue;
    for (const name of readdirSync(from))
      if (!without.test(name) && !existsSync(path.join(dir, name)))
        symlinkSync(path.join(from, name), path.join(dir, name));
  }
  return dir;
}

/** Runs `act` with PATH set to `dirs`, and puts the old PATH back however it ends. */
export async function withPath<T>(dirs: string, act: () => Promise<T>): Promise<T> {
  const old = process.env.PATH;
  process.env.PATH = dirs;
  try {
    return await act();
  } finally {
    process.env.PATH = old;
  }
}

/** The process group of a live process, or null once it is gone. */
export function groupOf(pid: number): number | null {
  const s = stat(pid);
  return s !== null && s.state !== 'Z' ? s.pgrp : null;
}
