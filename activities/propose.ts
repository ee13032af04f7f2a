// Step 1 of an experiment: turn the best code so far into a candidate commit.
// The candidate lives under refs/autoresearch/<tag>/exp/<n>, so a discarded idea is never lost, and a
// retry after a crash finds the ref and returns the same candidate instead of making a second one.
// Only a ref this worker signed for (see ownCandidate): one a candidate's training planted is replaced.
import { Context } from '@temporalio/activity';
import path from 'node:path';
import type { Candidate } from '../common/types';
import { targetError } from '../common/errors';
import { candidateRef } from '../common/names';
import { proposeEdit, savedExtra, type ProposeInput } from '../proposers';
import { NO_AGENTS, type AgentAllowlist } from '../proposers/command/allowlist';
import { checkGateRuns, InvalidEdit, validateEdit } from '../proposers/editGate';
import { proposalName, proposalsDir } from '../proposers/proposal';
import { Repo } from '../store/git';
import { publishRef } from '../store/remote';
import { readSignedMarker, writeSignedMarker, type MarkerFields } from '../store/signedMarker';

export type { ProposeInput };

/**
 * `agents`: what this worker lets the command proposer run (its own configuration, see
 * proposers/command/allowlist.ts); the run's `command` is only a request. Nothing allowed by default.
 */
export async function proposeCandidate(
  input: ProposeInput,
  agents: AgentAllowlist = NO_AGENTS,
): Promise<Candidate> {
  const repo = await Repo.open(input.repo);
  const ref = candidateRef(input.tag, input.n);
  const existing = await repo.readRef(ref);
  if (existing && ownCandidate(input, existing)) {
    // A retry: the first attempt may have died between making the ref and publishing it.
    await publishRef(repo, ref, input.remote);
    return { ...(await candidateFromCommit(repo, input.n, existing)), ...savedExtra(input) };
  }

  // An edit that cannot be checked would be paid for and then lost: the gate must run here first.
  await checkGateRuns(input.config);
  const ctx = activityContext();
  const edit = await proposeEdit(repo, input, {
    agents,
    attempt: ctx?.info.attempt,
    cancel: ctx?.cancellationSignal,
  });
  if (edit.invalid)
    return {
      n: input.n,
      parent: input.parent,
      commit: input.parent,
      description: edit.description,
      ...edit.extra,
      invalid: edit.invalid,
    };
  const { files, description, tree } = edit;
  // The one gate every proposer's edit passes before it becomes a commit (docs/ARCHITECTURE.md,
  // invariant 3), even when the proposer already checked it for its repair round.
  try {
    await validateEdit(input.config, files, { repo, parent: input.parent });
  } catch (err) {
    if (err instanceof InvalidEdit)
      throw targetError(`The ${input.proposer} proposer made an invalid edit: ${err.message}`);
    throw err;
  }
  const message = `${description}\n\nautoresearch experiment ${input.n} (${input.proposer})`;
  const commit = await repo.commitTree(
    tree ?? (await repo.writeTree(input.parent, files)),
    input.parent,
    message,
  );
  // Signed before the ref is made: were the worker to die in between, the retry finds no ref and proposes
  // again (this marker then names a commit no ref points at, harmlessly); past the ref, the retry finds
  // both and returns this candidate. So a ref without its marker was never made here.
  writeSignedMarker(candidateMarker(input, commit), candidateFields(input, commit), true);
  const winner = await takeCandidateRef(repo, ref, commit, (sha) => ownCandidate(input, sha));
  await publishRef(repo, ref, input.remote);
  // Ours is known without asking git; another attempt's that won the race is read from its commit.
  const made =
    winner === commit
      ? { n: input.n, parent: input.parent, commit, description: message.trim().split('\n')[0]! }
      : await candidateFromCommit(repo, input.n, winner);
  return { ...made, ...edit.extra };
}

/**
 * Points `ref` at `commit`, unless another attempt of this proposal won the race to it (its commit, signed
 * like ours, is then the candidate). A ref nobody here signed (a hostile training planted it, or a worker
 * from before refs were signed left it) is replaced: never trusted, never a reason to stop. Each move is a
 * compare-and-swap, so a concurrent attempt is never overwritten.
 */
async function takeCandidateRef(
  repo: Repo,
  ref: string,
  commit: string,
  ours: (sha: string) => boolean,
): Promise<string> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = await repo.readRef(ref);
    if (current === commit || (current && ours(current))) return current;
    try {
      await repo.raw(['update-ref', ref, commit, current ?? '']);
      return commit;
    } catch {
      // Lost a race for the ref: look at what won.
    }
  }
  throw new Error(`could not point ${ref} at ${commit}: it keeps changing under this proposal`);
}

/** What a candidate's marker says: this worker made `commit` for this tag, experiment and round. */
function candidateFields(input: ProposeInput, commit: string): MarkerFields {
  return { purpose: 'candidate', tag: input.tag, n: input.n, round: input.round ?? 0, commit };
}

/** One marker per commit: two attempts racing for the ref each sign their own. */
function candidateMarker(input: ProposeInput, commit: string): string {
  return path.join(proposalsDir(input), `${proposalName(input.n, input.round)}.candidate-${commit}.json`);
}

/** Whether this worker signed `commit` as the candidate of this experiment and round. */
function ownCandidate(input: ProposeInput, commit: string): boolean {
  return readSignedMarker(candidateMarker(input, commit), candidateFields(input, commit)) !== null;
}

async function candidateFromCommit(repo: Repo, n: number, commit: string): Promise<Candidate> {
  const parent = (await repo.raw(['rev-parse', `${commit}^`])).trim();
  const description = (await repo.commitMessage(commit)).split('\n')[0] ?? '';
  return { n, parent, commit, description };
}

/** The running activity's context; undefined when called outside one (tests, the bench). */
function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}
