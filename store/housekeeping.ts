// Every experiment leaves git objects (each mutate draw's blobs and trees, each candidate's commit) and
// one ref, all written by plumbing, which never packs anything (only porcelain such as `commit` and
// `fetch` runs `gc --auto`). Left alone, each loose object costs a disk block of its own and every ref a
// file that the "tried before" check reads. Housekeeping packs them at a bounded cadence, in the
// background: it never holds up a record or a decision, and a step that meets a lock is skipped and tried
// at the next round. Nothing here removes an object a ref, an index or a step in flight may need: refs
// are packed (git locks each ref it moves), reachable loose objects go into a pack before their loose
// copies are dropped, and unreachable ones are pruned only by `gc --auto` after git's grace period.
import { setTimeout as sleep } from 'node:timers/promises';
import { isLockError, Repo } from './git';

/** Every this many experiments (or fetches, in a training clone): about a hundred refs and objects a round. */
export const HOUSEKEEPING_EVERY = 100;

/** What `git count-objects -v` says: loose objects, and packs. */
interface ObjectCounts {
  count: number;
  sizeKiB: number;
  packs: number;
  packSizeKiB: number;
}

export async function looseObjects(repo: Repo): Promise<ObjectCounts> {
  const fields = new Map(
    (await repo.raw(['count-objects', '-v']))
      .split('\n')
      .map((line) => line.split(': '))
      .map(([key, value]) => [key, Number(value)] as const),
  );
  return {
    count: fields.get('count') ?? 0,
    sizeKiB: fields.get('size') ?? 0,
    packs: fields.get('packs') ?? 0,
    packSizeKiB: fields.get('size-pack') ?? 0,
  };
}

/** One round's steps, in order. Each is safe beside other git processes writing the same repository. */
const STEPS: { name: string; args: string[] }[] = [
  // Every loose ref into packed-refs: reading a run's refs is then one file, not one per experiment.
  { name: 'pack-refs', args: ['pack-refs', '--all'] },
  // The reachable loose objects into a new pack (their loose copies then go); unreachable ones stay loose.
  { name: 'repack', args: ['repack', '-d', '-q'] },
  // git's own thresholds from here: packs merged past gc.autoPackLimit, unreachable loose objects pruned
  // once older than gc.pruneExpire (two weeks: far longer than any step holds an object it just wrote).
  // Not detached: this round is already off the hot path, and its end must mean the work is done.
  { name: 'gc --auto', args: ['-c', 'gc.autoDetach=false', 'gc', '--auto', '--quiet'] },
];

interface HousekeepingRound {
  seconds: number;
  /** Steps that met a lock held by another git process (or failed): tried again next round. */
  skipped: string[];
}

/** One round of housekeeping, now. A lock held elsewhere is waited for briefly, then the step is skipped. */
export async function gitHousekeeping(repo: Repo): Promise<HousekeepingRound> {
  const started = Date.now();
  const skipped: string[] = [];
  for (const step of STEPS) {
    const why = await runStep(repo, step.args);
    if (why) skipped.push(`${step.name}: ${why}`);
  }
  return { seconds: (Date.now() - started) / 1000, skipped };
}

/** Null when the step ran; else why not (the lock it met, or its error's first line). */
async function runStep(repo: Repo, args: string[]): Promise<string | null> {
  for (let attempt = 1; ; attempt++) {
    try {
      await repo.raw(args);
      return null;
    } catch (err) {
      const message = (err as Error).message;
      if (!isLockError(message) || attempt === 3) return message.trim().split('\n')[0] ?? 'failed';
      await sleep(200 * attempt);
    }
  }
}

/** Rounds in flight, by repository: one at a time per repository in this process. */
const running = new Map<string, Promise<void>>();

/**
 * Starts a round in the background when `count` (an experiment's number, a clone's fetches) reaches the
 * cadence; returns at once. A round still running from before is left to finish, and this one skipped.
 */
export function scheduleHousekeeping(
  repoPath: string,
  count: number,
  options: { bare?: boolean; warn?: (line: string) => void } = {},
): void {
  if (count <= 0 || count % HOUSEKEEPING_EVERY !== 0 || running.has(repoPath)) return;
  // The activity that started the round may be over by the time it warns: a logger that throws then
  // must not become an unhandled rejection in the worker.
  const warn = (line: string) => {
    try {
      (options.warn ?? console.warn)(line);
    } catch {
      console.warn(line);
    }
  };
  const round = (async () => {
    try {
      const repo = options.bare ? await Repo.openBare(repoPath) : await Repo.open(repoPath);
      const { skipped } = await gitHousekeeping(repo);
      if (skipped.length)
        warn(`git housekeeping in ${repo.commonDir} skipped ${skipped.join('; ')} (next round retries)`);
    } catch (err) {
      warn(`git housekeeping in ${repoPath} failed: ${(err as Error).message}`);
    } finally {
      running.delete(repoPath);
    }
  })();
  running.set(repoPath, round);
}

/** The round in flight for a repository, if any: tests and the long run wait for it. */
export function housekeepingInFlight(repoPath: string): Promise<void> | undefined {
  return running.get(repoPath);
}
