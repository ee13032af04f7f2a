// A slot is one place a training runs (one GPU on one worker). It owns a git worktree of the target,
// reused across experiments so set-up (uv sync, data) happens once; a lock so two workers on one
// machine never share it; and a pid file so a group left by a dead worker is reaped. Slots live under the
// tool's home, outside the target's .git (see slotDir): candidate code works in a slot's worktree.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Repo } from '../store/git';
import { groupWorksIn } from './processGroups';
import { killGroup } from './runSupervised';
import { legacySlotDir, slotDir, slotsRoot } from '../store/runDirectory';

export interface Slot {
  name: string;
  dir: string;
  worktree: string;
  pidFile: string;
  setupMarker: string;
  setupLog: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Claims the first slot of this repo that no live process holds. The lock names the process and which of
 * its slots holds it: our own claim counts as free, a sibling slot's in the same worker does not.
 */
export function claimSlot(repo: Repo, preferred: string): Slot {
  const owner = `${process.pid} ${preferred}`;
  for (let k = 0; k < 64; k++) {
    const name = k === 0 ? preferred : `${preferred}-${k}`;
    const dir = slotDir(repo.commonDir, name);
    mkdirSync(dir, { recursive: true });
    const lock = path.join(dir, 'lock');
    const legacy = legacySlotDir(repo.commonDir, name);
    if (existsSync(legacy) && heldByOther(path.join(legacy, 'lock'), owner)) continue;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        closeSync(openSync(lock, 'wx'));
        writeFileSync(lock, owner);
      } catch {
        if (heldByOther(lock, owner)) break;
        if (readFileSync(lock, 'utf8') !== owner) {
          rmSync(lock, { force: true });
          continue;
        }
      }
      const slot: Slot = {
        name,
        dir,
        worktree: path.join(dir, 'worktree'),
        pidFile: path.join(dir, 'training.pid'),
        setupMarker: path.join(dir, 'setup.json'),
        setupLog: path.join(dir, 'setup.log'),
      };
      reapLeftoverTraining(slot);
      abandonLegacySlot(legacy);
      return slot;
    }
  }
  throw new Error(
    `no free training slot for ${repo.commonDir} in ${slotsRoot(repo.commonDir)}: 64 slots are held by live processes`,
  );
}

/** True when the lock file names a live process other than `owner`. */
function heldByOther(lock: string, owner: string): boolean {
  let held: string;
  try {
    held = readFileSync(lock, 'utf8');
  } catch {
    return false;
  }
  const holder = Number(held.split(' ')[0]) || 0;
  return held !== owner && holder !== 0 && alive(holder);
}

/**
 * Removes a slot of the same name from where earlier versions kept it, inside the target's .git (where a
 * candidate could reach the records). Only once no live process holds its lock (a worker of an earlier
 * version still training there keeps it: that name is then skipped, see claimSlot), after killing a
 * training a dead worker left in it. Its worktree registration goes with the next `git worktree prune`
 * (checkoutWorktree runs one before it adds a worktree).
 */
function abandonLegacySlot(dir: string): void {
  if (!existsSync(dir)) return;
  reapGroupIn(path.join(dir, 'training.pid'), dir);
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Kills the process group a dead worker left in this slot, if any is still there. The pid file may be
 * stale (a reboot since, the number reused by an unrelated program): where /proc can tell, only a group
 * with a process working inside this slot is killed.
 */
export function reapLeftoverTraining(slot: Slot): void {
  reapGroupIn(slot.pidFile, slot.dir);
}

/** Kills the group `pidFile` names if it still works in `dir` (or /proc cannot tell), and removes the file. */
function reapGroupIn(pidFile: string, dir: string): void {
  if (!existsSync(pidFile)) return;
  const pgid = Number(readFileSync(pidFile, 'utf8'));
  if (pgid > 0 && groupWorksIn(pgid, dir) !== false) killGroup(pgid, 'SIGKILL');
  rmSync(pidFile, { force: true });
}

/**
 * Puts the slot's worktree at `commit`, clean: tracked files reset, every other file removed, ignored
 * ones included (a checkpoint an earlier training saved is never scored as this one's), except what the
 * set-up left there (`setupOutputs`, e.g. .venv). Without `setupOutputs` (a run prepared by an earlier
 * version, which did not say), ignored files are kept as they were then.
 */
export function checkoutSlot(repo: Repo, slot: Slot, commit: string, setupOutputs?: string[]): Promise<void> {
  return checkoutWorktree(repo, slot.worktree, commit, setupOutputs);
}

export function cleanSlot(repo: Repo, slot: Slot, commit: string, setupOutputs?: string[]): Promise<void> {
  return cleanWorktree(repo, slot.worktree, commit, setupOutputs);
}

/** Files among `files` that differ in the slot's worktree from the checked-out commit. */
export function modifiedInSlot(repo: Repo, slot: Slot, files: string[]): Promise<string[]> {
  return files.length === 0 ? Promise.resolve([]) : changedInWorktree(repo, slot.worktree, files);
}

/**
 * A detached worktree of the repository at `commit`, created on first use and cleaned on every later one
 * (see cleanWorktree for `keep`).
 */
export async function checkoutWorktree(
  repo: Repo,
  dir: string,
  commit: string,
  keep?: string[],
): Promise<void> {
  if (!existsSync(path.join(dir, '.git'))) {
    await repo.worktree(['prune']);
    rmSync(dir, { recursive: true, force: true });
    await repo.worktree(['add', '--detach', '--force', dir, commit]);
    return;
  }
  await cleanWorktree(repo, dir, commit, keep);
}

/**
 * Resets a worktree to `commit` and removes every untracked file. With `keep` (paths from the root), ignored
 * files go too, nested repositories included, all but those paths; without it, ignored files stay.
 */
export async function cleanWorktree(repo: Repo, dir: string, commit: string, keep?: string[]): Promise<void> {
  await repo.rawIn(dir, ['checkout', '--detach', '--force', commit]);
  if (keep === undefined) await repo.rawIn(dir, ['clean', '-fdq']);
  // -x ignores .gitignore but not -e: each kept path is excluded, anchored at the root.
  else await repo.rawIn(dir, ['clean', '-ffdxq', ...keep.flatMap((p) => ['-e', `/${p}`])]);
}

export interface WorktreeChange {
  path: string;
  kind: 'modified' | 'added' | 'deleted' | 'type-changed';
}

/** What differs in a worktree from its checked-out commit (modified, added, deleted, untracked), optionally only among `files`. */
export async function worktreeChanges(
  repo: Repo,
  dir: string,
  files: string[] = [],
): Promise<WorktreeChange[]> {
  // -z: paths exactly as they are (no quoting); no renames: a rename is a deletion and an addition.
  const out = await repo.rawIn(dir, [
    'status',
    '--porcelain',
    '-z',
    '--no-renames',
    '--untracked-files=all',
    '--',
    ...files,
  ]);
  return out
    .split('\0')
    .filter(Boolean)
    .map((entry) => {
      const code = entry.slice(0, 2);
      const kind = /\?|A/.test(code)
        ? 'added'
        : code.includes('D')
          ? 'deleted'
          : code.includes('T')
            ? 'type-changed'
            : 'modified';
      return { path: entry.slice(3), kind };
    });
}

/** Paths changed in a worktree, optionally only among `files`. */
export async function changedInWorktree(repo: Repo, dir: string, files: string[] = []): Promise<string[]> {
  return (await worktreeChanges(repo, dir, files)).map((c) => c.path);
}

/**
 * Before the evaluation: the worktree as the candidate's commit has it, plus only what may be read by the
 * evaluation (`keep`: the set-up's outputs and the declared artifacts). Everything else the training wrote,
 * ignored or not (a shadow `json.py` or `numpy.py` that the frozen evaluation would import first, a
 * forged `__pycache__`, a `sitecustomize.py`), is removed, and tracked files it changed are reset.
 */
export function cleanForEvaluation(repo: Repo, slot: Slot, commit: string, keep: string[]): Promise<void> {
  return cleanWorktree(repo, slot.worktree, commit, keep);
}

/**
 * Where Python keeps byte code for the slot's set-up, training and evaluation (PYTHONPYCACHEPREFIX),
 * emptied on every call: outside the worktree, so a forged `__pycache__/*.pyc` there is never loaded
 * (an unchecked hash-based pyc is loaded without looking at its source), and emptied before each phase,
 * so that nothing one candidate wrote there, where it could (no sandbox), is read by the next phase.
 */
export function freshPycachePrefix(slot: Slot): string {
  const dir = path.resolve(slot.dir, 'pycache');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}
