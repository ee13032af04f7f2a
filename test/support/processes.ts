// Is anything still running? Read from /proc, so zombies (dead, not yet reaped) do not count.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';

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

/** Processes whose working directory is inside the repo's git dir: trainings in slot worktrees. */
export function trainingProcesses(repo: string): number[] {
  const gitDir = path.join(repo, '.git') + path.sep;
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      try {
        return readlinkSync(`/proc/${pid}/cwd`).startsWith(gitDir) && isRunning(pid);
      } catch {
        return false;
      }
    });
}

/** The process group of a live process, or null once it is gone. */
export function groupOf(pid: number): number | null {
  const s = stat(pid);
  return s !== null && s.state !== 'Z' ? s.pgrp : null;
}
