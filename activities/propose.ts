// Step 1 of an experiment: turn the best code so far into a candidate commit.
// The candidate lives under refs/autoresearch/<tag>/exp/<n>, so a discarded idea is never lost, and a
// retry after a crash finds the ref and returns the same candidate instead of making a second one.
// Only a ref this worker signed for (see ownCandidate): one a candidate's training planted is replaced.
import path from 'node:path';
import type { PromptContext } from '../proposers/claude/prompt';
import type { Candidate, ClaudeSettings, CommandSettings, ProposerKind, TargetConfig } from '../common/types';
import { allowedCommand, NO_AGENTS, type AgentAllowlist } from '../proposers/command/allowlist';
import { proposeWithCommand } from '../proposers/command/proposer';
import { proposeWithClaude, readSavedAnswer } from '../proposers/claude/proposer';
import { DEFAULT_CLAUDE } from '../proposers/claude/settings';
import { readRecords } from './record';
import { proposerRefused, targetError } from '../common/errors';
import { Repo } from '../store/git';
import { candidateRef, candidateRefPrefix } from '../common/names';
import { publishRef } from '../store/remote';
import { readSignedMarker, writeSignedMarker, type MarkerFields } from '../store/signedMarker';
import { checkGateRuns, InvalidEdit, validateEdit } from '../proposers/editGate';
import { CONSTANT_IDEA, mutate, setConstant } from '../proposers/mutate';
import { seededRandom } from '../proposers/seededRandom';
import { Context } from '@temporalio/activity';

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
  /** An idea the operator queued for this experiment: prose for LLM proposers, NAME=value for mutate. */
  idea?: string;
  /**
   * Counts the proposals for this number after an earlier one no longer applied to a newer best
   * (pipelining): each round asks afresh. Absent = the first.
   */
  round?: number;
  /** The run's directory: the results so far, and where an LLM's answer is saved against retries. */
  runDir: string;
  claude?: ClaudeSettings;
  command?: CommandSettings;
  /** The run's git remote: the candidate is published there, where training workers fetch it. */
  remote?: string;
}

/** Draws before the mutate proposer gives up finding an edit not tried before. */
const MAX_DRAWS = 200;

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
  const edit = await proposeEdit(repo, input, agents);
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
  // The one gate every proposer's edit passes before it becomes a commit (invariant 3), even when the
  // proposer already checked it for its repair round.
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
  return { ...(await candidateFromCommit(repo, input.n, winner)), ...edit.extra };
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
  const round = input.round ? `-round${input.round}` : '';
  const name = `exp-${String(input.n).padStart(4, '0')}${round}.candidate-${commit}.json`;
  return path.join(input.runDir, 'proposals', name);
}

/** Whether this worker signed `commit` as the candidate of this experiment and round. */
function ownCandidate(input: ProposeInput, commit: string): boolean {
  return readSignedMarker(candidateMarker(input, commit), candidateFields(input, commit)) !== null;
}

/** The hypothesis and cost of a claude proposal that was committed before a crash. */
function savedExtra(input: ProposeInput): Edit['extra'] {
  const saved = input.proposer === 'claude' ? readSavedAnswer(answerFile(input)) : null;
  if (!saved) return {};
  const { hypothesis, cost } = saved;
  return { hypothesis, cost };
}

function answerFile(input: ProposeInput): string {
  const round = input.round ? `-round${input.round}` : '';
  return path.join(input.runDir, 'proposals', `exp-${String(input.n).padStart(4, '0')}${round}.json`);
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
  /** What the proposer adds to the candidate (hypothesis, cost). */
  extra?: Pick<Candidate, 'hypothesis' | 'cost'>;
  invalid?: string;
}

async function proposeEdit(repo: Repo, input: ProposeInput, agents: AgentAllowlist): Promise<Edit> {
  switch (input.proposer) {
    case 'mutate':
      return proposeMutation(repo, input);
    case 'claude':
      return proposeByClaude(repo, input);
    case 'command':
      return proposeByCommand(repo, input, agents);
  }
}

/** A seeded perturbation of one constant, redrawn until its tree differs from every candidate so far. */
async function proposeMutation(repo: Repo, input: ProposeInput): Promise<Edit> {
  const tried = await repo.treesUnder(candidateRefPrefix(input.tag));
  tried.add(await repo.treeOf(input.parent));
  const sources: Record<string, string> = {};
  for (const file of input.config.files.editable)
    sources[file] = (await repo.readFile(input.parent, file)) ?? '';

  if (input.idea !== undefined) return queuedConstant(repo, input, sources, tried);

  const random = seededRandom(input.seed, input.tag, input.n);
  // A draw that repeats an earlier draw of this call needs no second git write-tree (a small file has
  // few neighbours, and running out of them should be found out fast).
  const drawn = new Set<string>();
  for (let draw = 0; draw < MAX_DRAWS; draw++) {
    const file = input.config.files.editable[Math.floor(random() * input.config.files.editable.length)]!;
    const mutation = mutate(sources[file]!, random);
    if (!mutation || drawn.has(`${file}\0${mutation.content}`)) continue;
    drawn.add(`${file}\0${mutation.content}`);
    const files = { [file]: mutation.content };
    const tree = await repo.writeTree(input.parent, files);
    if (tried.has(tree)) continue;
    return { files, description: mutation.description, tree };
  }
  // Not a failure of the run: it pauses with this message (nothing is lost), and a person can queue
  // values to try (`autoresearch queue NAME=value`) and resume, or stop it.
  throw proposerRefused(
    `The mutate proposer found no untried edit in ${input.config.files.editable.join(', ')} after ${MAX_DRAWS} draws ` +
      '(it perturbs top-level UPPERCASE constants holding plain numbers). Queue values to try with ' +
      '`autoresearch queue NAME=value` and resume, or stop the run and start one with another proposer.',
  );
}

/** The mutate proposer's reading of a queued idea: `NAME=value` sets that constant, nothing else. */
async function queuedConstant(
  repo: Repo,
  input: ProposeInput,
  sources: Record<string, string>,
  tried: Set<string>,
): Promise<Edit> {
  const idea = input.idea!;
  const m = CONSTANT_IDEA.exec(idea);
  const invalid = (why: string): Edit => ({ files: {}, description: `queued idea: ${idea}`, invalid: why });
  if (!m) return invalid('the mutate proposer takes ideas of the form NAME=value, e.g. LEARNING_RATE=0.01');
  for (const [file, source] of Object.entries(sources)) {
    const mutation = setConstant(source, m[1]!, m[2]!);
    if (!mutation) continue;
    const files = { [file]: mutation.content };
    const tree = await repo.writeTree(input.parent, files);
    if (tried.has(tree)) return invalid(`${idea} was already tried in this run (or is the current value)`);
    return { files, description: mutation.description, tree };
  }
  return invalid(
    `no top-level numeric constant ${m[1]} in ${input.config.files.editable.join(', ')}; queue one that exists`,
  );
}

/** What an LLM proposer is shown: the program, the code at the parent, the results, notes, the last crash. */
async function promptContext(repo: Repo, input: ProposeInput): Promise<PromptContext> {
  const read = async (files: string[]) =>
    Object.fromEntries(
      await Promise.all(files.map(async (f) => [f, (await repo.readFile(input.parent, f)) ?? ''] as const)),
    );
  const { config } = input;
  const results = readRecords(input.runDir);
  const last = results[results.length - 1];
  return {
    program: config.files.program ? await repo.readFile(input.parent, config.files.program) : null,
    editable: await read(config.files.editable),
    frozen: await read(config.files.frozen),
    metricName: config.metric.name,
    direction: config.metric.direction,
    budgetSeconds: config.train.budgetSeconds,
    n: input.n,
    results,
    notes: input.notes,
    idea: input.idea,
    lastCrash:
      last && last.logTail && ['crash', 'timeout'].includes(last.status)
        ? { n: last.n, description: last.description, reason: last.reason, logTail: last.logTail }
        : undefined,
  };
}

/** Why new file contents cannot be a candidate (the edit gate, or "already tried"), or null. */
async function candidateProblem(
  repo: Repo,
  input: ProposeInput,
  files: Record<string, string>,
): Promise<string | null> {
  try {
    await validateEdit(input.config, files, { repo, parent: input.parent });
  } catch (err) {
    if (err instanceof InvalidEdit) return err.message;
    throw err;
  }
  const tried = await repo.treesUnder(candidateRefPrefix(input.tag));
  tried.add(await repo.treeOf(input.parent));
  return tried.has(await repo.writeTree(input.parent, files))
    ? 'this exact edit was already tried in this run; propose a different idea'
    : null;
}

/** The running activity's context; undefined when called outside one (tests, the bench). */
function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/** Claude's edit, checked like any other, plus "not tried before": a duplicate costs no GPU time. */
async function proposeByClaude(repo: Repo, input: ProposeInput): Promise<Edit> {
  const proposal = await proposeWithClaude({
    ctx: await promptContext(repo, input),
    settings: input.claude ?? DEFAULT_CLAUDE,
    editableFiles: input.config.files.editable,
    answerFile: answerFile(input),
    check: (files) => candidateProblem(repo, input, files),
    cancel: activityContext()?.cancellationSignal,
  });
  return {
    files: proposal.files,
    description: proposal.description,
    extra: { hypothesis: proposal.hypothesis, cost: proposal.cost },
    invalid: proposal.invalid,
  };
}

/** A coding-agent CLI's edit, read back from its worktree and checked like any other. */
async function proposeByCommand(repo: Repo, input: ProposeInput, agents: AgentAllowlist): Promise<Edit> {
  if (!input.command)
    throw targetError('The command proposer needs a command: pass --proposer-command "<cli ...>".');
  // Checked here, in the activity, against the worker's own list: the workflow passes the run's request
  // on unchanged, so no workflow decision changed and recorded histories replay as before.
  const settings = allowedCommand(input.command, agents);
  const proposal = await proposeWithCommand({
    repo,
    tag: input.tag,
    n: input.n,
    ...(input.round ? { round: input.round } : {}),
    parent: input.parent,
    ctx: await promptContext(repo, input),
    settings,
    editableFiles: input.config.files.editable,
    proposalsDir: path.join(input.runDir, 'proposals'),
    attempt: activityContext()?.info.attempt ?? 1,
    cancel: activityContext()?.cancellationSignal,
  });
  const invalid = proposal.invalid ?? (await candidateProblem(repo, input, proposal.files)) ?? undefined;
  return { files: proposal.files, description: proposal.description, invalid };
}
