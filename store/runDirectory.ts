// Where a run keeps its files: inside the repository's git directory, so the user's working tree is
// never touched (docs/ARCHITECTURE.md, invariant 4), and next to the objects the records point at.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ExperimentRecord } from '../common/types';
import { homePath } from '../system/home';

export function runDir(gitCommonDir: string, tag: string): string {
  return path.join(gitCommonDir, 'autoresearch', 'runs', tag);
}

export function experimentLogPath(runDirectory: string, n: number): string {
  return path.join(runDirectory, 'logs', `exp-${String(n).padStart(4, '0')}.log`);
}

export function experimentRecordPath(runDirectory: string, n: number): string {
  return path.join(runDirectory, 'experiments', `${String(n).padStart(6, '0')}.json`);
}

/** The run's experiment records, in experiment order (none yet: empty). */
export function readRecords(runDir: string): ExperimentRecord[] {
  const dir = path.join(runDir, 'experiments');
  let names: string[];
  try {
    names = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  return names
    .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as ExperimentRecord)
    .sort((a, b) => a.n - b.n);
}

/**
 * Readers (the CLI, a person with `cat`, a viewer) never see a half-written file. With `makeDir` false,
 * a folder that is gone (removed meanwhile) fails the write (ENOENT) instead of being made again.
 */
export function writeAtomically(file: string, content: string | Buffer, makeDir = true): void {
  if (makeDir) mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, content);
  renameSync(tmp, file);
}

export function resultsPath(runDirectory: string): string {
  return path.join(runDirectory, 'results.tsv');
}

/**
 * A slot's home: its worktree (`worktree/`, the one place a sandboxed training may write) and, beside it,
 * its lock, set-up marker and the pid file of the training it runs. Outside the target's .git, under the
 * tool's home: a candidate working in the slot is then nowhere near the run's records and refs. One
 * folder per repository (its name, and a hash of its real git directory: two clones never share slots).
 */
export function slotDir(gitCommonDir: string, slot: string): string {
  return path.join(slotsRoot(gitCommonDir), slot);
}

/**
 * Where every slot of every repository lives: AUTORESEARCH_SLOTS_DIR when the worker's operator names a
 * folder (a fast local disk; the tests' own scratch), else the tool's home.
 */
export function slotsBase(env: NodeJS.ProcessEnv = process.env): string {
  return env.AUTORESEARCH_SLOTS_DIR ? path.resolve(env.AUTORESEARCH_SLOTS_DIR) : homePath('slots');
}

/** Where every slot of a repository lives (see slotDir). */
export function slotsRoot(gitCommonDir: string): string {
  let real = path.resolve(gitCommonDir);
  try {
    real = realpathSync(real);
  } catch {
    // Not there (yet): the path as given names it.
  }
  const name = path.basename(real) === '.git' ? path.basename(path.dirname(real)) : path.basename(real);
  const hash = createHash('sha256').update(real).digest('hex').slice(0, 12);
  const safe = name.replace(/\.git$/, '').replace(/[^A-Za-z0-9._-]/g, '_') || 'repo';
  return path.join(slotsBase(), `${safe}-${hash}`);
}

/** Where slots lived before they moved out of the target's .git: abandoned (see claimSlot). */
export function legacySlotDir(gitCommonDir: string, slot: string): string {
  return path.join(gitCommonDir, 'autoresearch', 'slots', slot);
}
