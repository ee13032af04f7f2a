// Between proposing and training, with pipelining or several slots: the best moved on while a candidate
// waited, so it is replayed onto the new best (a three-way merge of its own edit, file by file) before it
// trains. When the edit no longer applies (it conflicts, the new best already has it, it was tried, it no
// longer parses), the workflow asks the proposer again on the new best.
// Idempotent: the candidate's ref is moved by compare-and-swap, and a retry finds the move already made,
// signed by this worker (a ref on the new best that a hostile training planted is not taken for it).
import { execa } from 'execa';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Repo } from '../store/git';
import { candidateRef, candidateRefPrefix } from '../common/names';
import { publishRef } from '../store/remote';
import { runDir } from '../store/runDirectory';
import { readSignedMarker, writeSignedMarker, type MarkerFields } from '../store/signedMarker';

export interface RebaseInput {
  repo: string;
  tag: string;
  n: number;
  /** The candidate as proposed, and the best it was proposed on. */
  commit: string;
  parent: string;
  /** The best now. */
  onto: string;
  remote?: string;
}

/** The rebased candidate, or why its edit no longer applies (its ref then moves to `stale/<n>`). */
export type RebaseResult = { commit: string } | { stale: string };

export function staleRef(tag: string, n: number): string {
  return `refs/autoresearch/${tag}/stale/${n}`;
}

export async function rebaseCandidate(input: RebaseInput): Promise<RebaseResult> {
  const repo = await Repo.open(input.repo);
  const ref = candidateRef(input.tag, input.n);
  const current = await repo.readRef(ref);
  // A retry: the move was made already (or the edit was found stale).
  if (current && current !== input.commit && ownRebase(repo, input, current)) {
    const parent = await repo.resolve(`${current}^`);
    if (parent === input.onto) return { commit: current };
  }
  if (!current && (await repo.readRef(staleRef(input.tag, input.n))) === input.commit)
    return { stale: 'its edit no longer applies to the new best' };

  const why = await whyNotRebased(repo, input);
  if (typeof why === 'string') {
    // Kept reachable (a discarded idea is never lost) but out of the way of the next proposal for n.
    await repo.raw(['update-ref', staleRef(input.tag, input.n), input.commit]);
    // From whatever is there: the candidate, or a ref nobody here made (never kept in its place).
    if (current) await repo.raw(['update-ref', '-d', ref, current]);
    return { stale: why };
  }
  const message = await repo.commitMessage(input.commit);
  const commit = await repo.commitTree(why.tree, input.onto, message.trimEnd());
  // Signed before the ref moves: a worker that dies in between leaves the ref at the candidate, and the
  // retry rebases again.
  writeSignedMarker(rebaseMarker(repo, input, commit), rebaseFields(input, commit), true);
  await repo.raw(['update-ref', ref, commit, current ?? '']);
  await publishRef(repo, ref, input.remote);
  return { commit };
}

/** What a rebase's marker says: this worker replayed `input.commit` onto `input.onto` as `commit`. */
function rebaseFields(input: RebaseInput, commit: string): MarkerFields {
  return { purpose: 'rebased', tag: input.tag, n: input.n, from: input.commit, onto: input.onto, commit };
}

function rebaseMarker(repo: Repo, input: RebaseInput, commit: string): string {
  const name = `exp-${String(input.n).padStart(4, '0')}.rebased-${commit}.json`;
  return path.join(runDir(repo.commonDir, input.tag), 'proposals', name);
}

function ownRebase(repo: Repo, input: RebaseInput, commit: string): boolean {
  return readSignedMarker(rebaseMarker(repo, input, commit), rebaseFields(input, commit)) !== null;
}

/** The rebased tree, or the reason the edit does not carry over to the new best. */
async function whyNotRebased(repo: Repo, input: RebaseInput): Promise<string | { tree: string }> {
  const merged: Record<string, string> = {};
  for (const file of await repo.changedFiles(input.parent, input.commit)) {
    const [base, ours, theirs] = await Promise.all([
      repo.readFile(input.parent, file),
      repo.readFile(input.onto, file),
      repo.readFile(input.commit, file),
    ]);
    if (theirs === null) return `it deletes ${file}`;
    if (ours === base || ours === theirs) merged[file] = theirs;
    else if (base === null || ours === null) return `${file} changed on both sides`;
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
      if (result === null) return `its edit of ${file} conflicts with the new best`;
      merged[file] = result;
    }
  }
  const tree = await repo.writeTree(input.onto, merged);
  if (tree === (await repo.treeOf(input.onto))) return 'the new best already has its edit';
  if ((await repo.treesUnder(candidateRefPrefix(input.tag))).has(tree))
    return 'its edit on the new best was tried already';
  // Not checked again by the edit gate: the merge touches only the files the candidate's own edit did
  // (which passed it), and this step sits between two trainings on the slot's critical path.
  return { tree };
}

/**
 * The candidate's own lines replayed onto the new best with no lines of context (`git apply
 * --unidiff-zero`): two edits of neighbouring lines (two constants in a row, as hyperparameters often
 * are) touch in a three-way merge, yet neither changes what the other replaced. Null when a line the
 * candidate changed is no longer as it was.
 */
async function applyTightly(ours: string, file: string, patch: string): Promise<string | null> {
  return inScratchDir('autoresearch-apply-', { [file]: ours, '.patch': patch }, async (dir) => {
    const result = await execa('git', ['apply', '--unidiff-zero', '.patch'], { cwd: dir, reject: false });
    return result.exitCode === 0 ? readFileSync(path.join(dir, file), 'utf8') : null;
  });
}

/** git's three-way merge of one file's contents; null when the two edits conflict. */
async function mergeFile(ours: string, base: string, theirs: string): Promise<string | null> {
  return inScratchDir('autoresearch-merge-', { ours, base, theirs }, async (dir) => {
    const result = await execa('git', ['merge-file', '-p', 'ours', 'base', 'theirs'], {
      cwd: dir,
      reject: false,
      stripFinalNewline: false,
    });
    // The exit code is the number of conflicts; negative (>127 here) is an error.
    if (result.exitCode === 0) return result.stdout;
    if (result.exitCode !== undefined && result.exitCode > 0 && result.exitCode < 128) return null;
    throw new Error(`git merge-file failed: ${result.stderr}`);
  });
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
