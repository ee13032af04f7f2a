// Where a run keeps its files: inside the repository's git directory, so the user's working tree is
// never touched (DESIGN invariant 4), and next to the objects the records point at.
import path from 'node:path';

export function runDir(gitCommonDir: string, tag: string): string {
  return path.join(gitCommonDir, 'autoresearch', 'runs', tag);
}

export function experimentLogPath(runDirectory: string, n: number): string {
  return path.join(runDirectory, 'logs', `exp-${String(n).padStart(4, '0')}.log`);
}

export function experimentRecordPath(runDirectory: string, n: number): string {
  return path.join(runDirectory, 'experiments', `${String(n).padStart(6, '0')}.json`);
}

export function resultsPath(runDirectory: string): string {
  return path.join(runDirectory, 'results.tsv');
}

/** A slot's home: its worktree, its setup marker and the pid file of the training it runs. */
export function slotDir(gitCommonDir: string, slot: string): string {
  return path.join(gitCommonDir, 'autoresearch', 'slots', slot);
}
