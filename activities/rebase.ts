// Between proposing and training, with pipelining or several slots: the best moved on while a candidate
// waited, so it is replayed onto the new best (a three-way merge of its own edit, file by file) before it
// trains. When the edit no longer applies (it conflicts, the new best already has it, it was tried, it no
// longer parses), the workflow asks the proposer again on the new best.
// Rebased ahead (`speculative`): while another candidate trains, the proposal waiting for a slot is
// replayed onto it under `speculative/<n>`, so that if it is kept, the slot trains this one at once with
// no rebase in between (workflows/speculation.ts); `exp/<n>` does not move until the record step.
// Idempotent: the candidate's ref is moved by compare-and-swap, and a retry finds the move already made,
// signed by this worker (a ref on the new best that a hostile training planted is not taken for it).
import path from 'node:path';
import { Repo } from '../store/git';
import { candidateRef, speculativeRef } from '../common/names';
import { whyNotRebased } from '../store/rebase';
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
  /** Onto a candidate still in training: under `speculative/<n>`, `exp/<n>` left as it is. */
  speculative?: boolean;
}

/** The rebased candidate, or why its edit no longer applies (its ref then moves to `stale/<n>`). */
export type RebaseResult = { commit: string } | { stale: string };

export function staleRef(tag: string, n: number): string {
  return `refs/autoresearch/${tag}/stale/${n}`;
}

export async function rebaseCandidate(input: RebaseInput): Promise<RebaseResult> {
  const repo = await Repo.open(input.repo);
  if (input.speculative) return rebaseAhead(repo, input);
  const ref = candidateRef(input.tag, input.n);
  const current = await repo.readRef(ref);
  // A retry: the move was made already (or the edit was found stale).
  if (current && current !== input.commit && (await madeHere(repo, input, current)))
    return { commit: current };
  if (!current && (await repo.readRef(staleRef(input.tag, input.n))) === input.commit)
    return { stale: 'its edit no longer applies to the new best' };

  const why = await whyNotRebased(repo, input);
  if (typeof why === 'string') {
    // Refused as "tried already" by its own replay onto this very best, made ahead by a run execution
    // that continued as new before it used it: that replay is taken. Read only here, off the common path.
    const ahead = await repo.readRef(speculativeRef(input.tag, input.n));
    if (current === input.commit && ahead && (await madeHere(repo, input, ahead))) {
      await repo.raw(['update-ref', ref, ahead, current]);
      await repo.raw(['update-ref', '-d', speculativeRef(input.tag, input.n), ahead]);
      await publishRef(repo, ref, input.remote);
      return { commit: ahead };
    }
    // Kept reachable (a discarded idea is never lost) but out of the way of the next proposal for n.
    await repo.raw(['update-ref', staleRef(input.tag, input.n), input.commit]);
    // From whatever is there: the candidate, or a ref nobody here made (never kept in its place).
    if (current) await repo.raw(['update-ref', '-d', ref, current]);
    return { stale: why };
  }
  return { commit: await commitReplay(repo, input, why.tree, ref, current) };
}

/**
 * The candidate replayed onto a candidate in training, under `speculative/<n>`. A stale edit moves no
 * ref: the workflow then takes the ordinary path if that candidate is kept, which sets the edit aside.
 */
async function rebaseAhead(repo: Repo, input: RebaseInput): Promise<RebaseResult> {
  const ref = speculativeRef(input.tag, input.n);
  const current = await repo.readRef(ref);
  if (current && (await madeHere(repo, input, current))) return { commit: current };
  const why = await whyNotRebased(repo, input);
  if (typeof why === 'string') return { stale: why };
  return { commit: await commitReplay(repo, input, why.tree, ref, current) };
}

/**
 * The replayed tree as a commit on `input.onto` with the candidate's message, signed, then `ref` moved
 * to it from `current` and published (a training worker with a clone of its own fetches it there).
 */
async function commitReplay(
  repo: Repo,
  input: RebaseInput,
  tree: string,
  ref: string,
  current: string | null,
): Promise<string> {
  const message = await repo.commitMessage(input.commit);
  const commit = await repo.commitTree(tree, input.onto, message.trimEnd());
  // Signed before the ref moves: a worker that dies in between leaves the ref where it was, and the
  // retry rebases again.
  writeSignedMarker(rebaseMarker(repo, input, commit), rebaseFields(input, commit), true);
  await repo.raw(['update-ref', ref, commit, current ?? '']);
  await publishRef(repo, ref, input.remote);
  return commit;
}

/** Whether `commit` is this worker's replay of the candidate onto `input.onto` (a retry finding it). */
async function madeHere(repo: Repo, input: RebaseInput, commit: string): Promise<boolean> {
  return ownRebase(repo, input, commit) && (await repo.resolve(`${commit}^`)) === input.onto;
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
