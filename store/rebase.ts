// Replaying a candidate's edit onto a newer best, the way git would: a three-way merge (of the whole
// edit in one git process when it merges cleanly), else file by file, its own lines applied with no
// context. Git work only; the activity (activities/rebase.ts) moves the refs and signs the move.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { triedRefPrefixes } from '../common/names';
import { runSmall, type SmallResult } from '../system/smallSpawner';
import { gitEnv, type Repo } from './git';

/** A candidate (`commit`, proposed on `parent`) to replay onto `onto`, in the run `tag`. */
export interface Replay {
  tag: string;
  commit: string;
  parent: string;
  onto: string;
}

/** The rebased tree, or the reason the edit does not carry over to the new best. */
export async function whyNotRebased(repo: Repo, input: Replay): Promise<string | { tree: string }> {
  const changes = await repo.changes(input.parent, input.commit);
  const deleted = changes.find((c) => c.status === 'D');
  if (deleted) return `it deletes ${deleted.file}`;
  const merged =
    (await mergedWhole(repo, input)) ??
    (await mergedFileByFile(
      repo,
      input,
      changes.map((c) => c.file),
    ));
  if ('why' in merged) return merged.why;
  const { tree } = merged;
  if (tree === (await repo.treeOf(input.onto))) return 'the new best already has its edit';
  if ((await repo.treesUnder(triedRefPrefixes(input.tag))).has(tree))
    return 'its edit on the new best was tried already';
  // Not checked again by the edit gate: the merge touches only the files the candidate's own edit did
  // (which passed it), and this step sits between two trainings on the slot's critical path.
  return { tree };
}

/**
 * The whole edit merged in one git process (`merge-tree --write-tree`), when it merges cleanly and the
 * new best descends from the candidate's parent, so that git's merge base is that parent (the common
 * case, and the one a rebase made ahead always is); null to merge file by file (a conflict that the
 * tight replay may still resolve, or a best that moved to a sibling of the parent).
 */
async function mergedWhole(repo: Repo, input: Replay): Promise<{ tree: string } | null> {
  const base = (await repo.raw(['merge-base', input.parent, input.onto]).catch(() => '')).trim();
  if (base !== input.parent) return null;
  const out = await repo.raw(['merge-tree', '--write-tree', input.onto, input.commit]).catch(() => '');
  // Clean: the tree alone; a conflict adds the conflicted files and git's messages after it.
  const lines = out.trim().split('\n');
  return lines.length === 1 && /^[0-9a-f]{40,64}$/.test(lines[0]!) ? { tree: lines[0]! } : null;
}

/** Each file the candidate changed merged on its own: a three-way merge, else its own lines applied tightly. */
async function mergedFileByFile(
  repo: Repo,
  input: Replay,
  files: string[],
): Promise<{ tree: string } | { why: string }> {
  const merged: Record<string, string> = {};
  for (const file of files) {
    const [base, ours, theirs] = await Promise.all([
      repo.readFile(input.parent, file),
      repo.readFile(input.onto, file),
      repo.readFile(input.commit, file),
    ]);
    // A deletion was refused before (whyNotRebased): the candidate has every file it changed.
    if (theirs === null) throw new Error(`${file} is missing from ${input.commit}, which changed it`);
    if (ours === base || ours === theirs) merged[file] = theirs;
    else if (base === null || ours === null) return { why: `${file} changed on both sides` };
    else {
      const result =
        (await mergeFile(ours, base, theirs)) ??
        (await applyTightly(
          ours,
          file,
          await repo.raw([
            'diff',
            '-U0',
            '--no-color',
            '--no-ext-diff',
            input.parent,
            input.commit,
            '--',
            file,
          ]),
        ));
      if (result === null) return { why: `its edit of ${file} conflicts with the new best` };
      merged[file] = result;
    }
  }
  return { tree: await repo.writeTree(input.onto, merged) };
}

/**
 * The candidate's own lines replayed onto the new best with no lines of context (`git apply
 * --unidiff-zero`): two edits of neighbouring lines (two constants in a row, as hyperparameters often
 * are) touch in a three-way merge, yet neither changes what the other replaced. Null when a line the
 * candidate changed is no longer as it was.
 */
async function applyTightly(ours: string, file: string, patch: string): Promise<string | null> {
  return inScratchDir('autoresearch-apply-', { [file]: ours, '.patch': patch }, async (dir) => {
    const result = await gitIn(dir, ['apply', '--unidiff-zero', '.patch']);
    return result.exitCode === 0 ? readFileSync(path.join(dir, file), 'utf8') : null;
  });
}

/** git's three-way merge of one file's contents; null when the two edits conflict. */
async function mergeFile(ours: string, base: string, theirs: string): Promise<string | null> {
  return inScratchDir('autoresearch-merge-', { ours, base, theirs }, async (dir) => {
    const result = await gitIn(dir, ['merge-file', '-p', 'ours', 'base', 'theirs']);
    // The exit code is the number of conflicts; negative (>127 here) is an error.
    if (result.exitCode === 0) return result.stdout;
    if (result.exitCode !== null && result.exitCode > 0 && result.exitCode < 128) return null;
    throw new Error(`git merge-file failed: ${result.error?.message ?? result.stderr}`);
  });
}

/** git on the scratch files in `dir`, started by the small helper, with git's environment (store/git.ts). */
function gitIn(dir: string, args: string[]): Promise<SmallResult> {
  return runSmall('git', args, { cwd: dir, env: gitEnv(), maxBuffer: 1024 * 1024 * 1024 });
}

/** Runs `work` in a temporary directory holding `files` (path: content), removed afterwards. */
async function inScratchDir<T>(
  prefix: string,
  files: Record<string, string>,
  work: (dir: string) => Promise<T>,
): Promise<T> {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  try {
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      writeFileSync(path.join(dir, name), content);
    }
    return await work(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
