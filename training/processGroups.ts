// Process groups seen through /proc: who is in a group, where its members work, and whether it is gone.
// A pid file outlives its process (a reboot, a dead worker), and the number may be reused by an unrelated
// program: a group is killed only when one of its members works where ours did (a slot, an attempt's
// worktree). Without /proc (not Linux) there is nothing finer than the pid file, and callers say so.
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';

export interface GroupMember {
  pid: number;
  /** Its working directory; '' when it is not ours to inspect. */
  cwd: string;
}

/** The live processes of group `pgid` (zombies excluded); null where there is no /proc to ask. */
export function groupMembers(pgid: number): GroupMember[] | null {
  if (!existsSync('/proc/self/stat')) return null;
  const members: GroupMember[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) !== pgid || fields[0] === 'Z') continue;
      let cwd = '';
      try {
        cwd = readlinkSync(`/proc/${entry}/cwd`);
      } catch {
        // not ours to inspect
      }
      members.push({ pid: Number(entry), cwd });
    } catch {
      // ended meanwhile
    }
  }
  return members;
}

/**
 * Whether a live member of group `pgid` works inside `dir` (or in it after it was removed: the kernel
 * then names it "<dir> (deleted)"); null where there is no /proc to ask.
 */
export function groupWorksIn(pgid: number, dir: string): boolean | null {
  const members = groupMembers(pgid);
  if (members === null) return null;
  const parent = path.dirname(dir);
  const real = path.join(existsSync(parent) ? realpathSync(parent) : parent, path.basename(dir));
  return members.some(
    ({ cwd }) => cwd === real || cwd === `${real} (deleted)` || cwd.startsWith(real + path.sep),
  );
}

/** Whether group `pgid` has a live member (without /proc, a zombie counts: there is nothing finer). */
export function groupAlive(pgid: number): boolean {
  const members = groupMembers(pgid);
  if (members) return members.length > 0;
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until no live process is left in group `pgid`; throws after `timeoutMs` (a process stuck in the kernel). */
export async function groupGone(pgid: number, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (groupAlive(pgid)) {
    if (Date.now() > deadline)
      throw new Error(
        `${what} (process group ${pgid}) is still alive ${timeoutMs / 1000} s after SIGKILL (a process stuck ` +
          `in the kernel, e.g. on a hung file system); see it with \`ps -g ${pgid}\`.`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}
