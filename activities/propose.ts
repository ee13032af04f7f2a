// Step 1 of an experiment: turn the best code so far into a candidate commit.
// The candidate lives under refs/autoresearch/<tag>/exp/<n>, so a discarded idea is never lost, and a
// retry after a crash finds the ref and returns the same candidate instead of making a second one.
import { ApplicationFailure } from '@temporalio/common';
import type { Candidate, ProposerKind, TargetConfig } from '../lib/types';
import { targetError } from '../lib/node/errors';
import { Repo, candidateRef, candidateRefPrefix } from '../lib/node/git';
import { InvalidEdit, validateEdit } from '../lib/node/validateEdit';
import { mutate } from '../lib/proposers/mutate';
import { seededRandom } from '../lib/proposers/seededRandom';

export interface ProposeInput {
  repo: string;
  tag: string;
  n: number;
  parent: string;
  proposer: ProposerKind;
  seed: number;
  config: TargetConfig;
  /** Operator redirect notes, newest last (used by LLM proposers). */
  notes: string[];
}

/** Draws before the mutate proposer gives up finding an edit not tried before. */
const MAX_DRAWS = 200;

export async function proposeCandidate(input: ProposeInput): Promise<Candidate> {
  const repo = await Repo.open(input.repo);
  const ref = candidateRef(input.tag, input.n);
  const existing = await repo.readRef(ref);
  if (existing) return candidateFromCommit(repo, input.n, existing);

  const { files, description, tree } = await proposeEdit(repo, input);
  try {
    await validateEdit(input.config, files);
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
  // Another attempt may have won the race to the ref; the ref's commit is the candidate either way.
  const winner = await repo.createRef(ref, commit);
  return candidateFromCommit(repo, input.n, winner);
}

async function candidateFromCommit(repo: Repo, n: number, commit: string): Promise<Candidate> {
  const parent = (await repo.raw(['rev-parse', `${commit}^`])).trim();
  const description = (await repo.commitMessage(commit)).split('\n')[0] ?? '';
  return { n, parent, commit, description };
}

/** An edit: new contents of some files, and the tree they make on the parent when already known. */
interface Edit {
  files: Record<string, string>;
  description: string;
  tree?: string;
}

async function proposeEdit(repo: Repo, input: ProposeInput): Promise<Edit> {
  switch (input.proposer) {
    case 'mutate':
      return proposeMutation(repo, input);
    default:
      throw ApplicationFailure.create({
        message: `Proposer "${input.proposer}" is not available in this version; use --proposer mutate.`,
        type: 'TargetError',
        nonRetryable: true,
      });
  }
}

/** A seeded perturbation of one constant, redrawn until its tree differs from every candidate so far. */
async function proposeMutation(repo: Repo, input: ProposeInput): Promise<Edit> {
  const tried = await repo.treesUnder(candidateRefPrefix(input.tag));
  tried.add(await repo.treeOf(input.parent));
  const sources: Record<string, string> = {};
  for (const file of input.config.files.editable)
    sources[file] = (await repo.readFile(input.parent, file)) ?? '';

  const random = seededRandom(input.seed, input.tag, input.n);
  for (let draw = 0; draw < MAX_DRAWS; draw++) {
    const file = input.config.files.editable[Math.floor(random() * input.config.files.editable.length)]!;
    const mutation = mutate(sources[file]!, random);
    if (!mutation) continue;
    const files = { [file]: mutation.content };
    const tree = await repo.writeTree(input.parent, files);
    if (tried.has(tree)) continue;
    return { files, description: mutation.description, tree };
  }
  throw targetError(
    `The mutate proposer found no untried edit in ${input.config.files.editable.join(', ')} after ${MAX_DRAWS} draws: ` +
      'it perturbs top-level UPPERCASE constants holding plain numbers (e.g. LEARNING_RATE = 0.003); add some, or use another proposer.',
  );
}
