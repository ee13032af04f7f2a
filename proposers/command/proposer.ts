// The `command` proposer: any coding-agent CLI (Claude Code in headless mode, for instance) edits the
// files in a worktree of the parent, given the same prompt the claude proposer sends. The agent's
// changes are read back from git and pass the same gate as every other edit.
// A coding agent may work for many minutes: each attempt of the proposal step gets a worktree of its
// own, and an attempt stops every earlier attempt's agent (its process group, recorded in the run's
// directory) before it starts its own, so a retry never runs beside a live agent.
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { logTail } from '../../training/metrics';
import { systemPrompt, userPrompt, type PromptContext } from '../claude/prompt';
import type { CommandSettings } from '../../common/types';
import { ERROR_TYPE } from '../../common/names';
import { targetError } from '../../common/errors';
import { allowedCommand } from './allowlist';
import { checkedTree } from '../editGate';
import { promptContext } from '../promptContext';
import { proposalName, proposalsDir, type Edit, type ProposeInput, type ProposerRuntime } from '../proposal';
import type { Repo } from '../../store/git';
import { groupGone, groupWorksIn } from '../../training/processGroups';
import { killGroup, readTail, runSupervised } from '../../training/runSupervised';
import { checkoutWorktree, worktreeChanges, type WorktreeChange } from '../../training/slot';
import { withoutSecrets } from '../../training/environment';

/** How much lower than the worker's the agent's CPU priority is (`nice`): it yields to trainings. */
const AGENT_NICENESS = 10;

/** A coding-agent CLI's edit, read back from its worktree and checked like any other. */
export async function proposeByCommand(
  repo: Repo,
  input: ProposeInput,
  runtime: ProposerRuntime,
): Promise<Edit> {
  if (!input.command)
    throw targetError('The command proposer needs a command: pass --proposer-command "<cli ...>".');
  // Checked here, on the worker, against its own list: the workflow passes the run's request on
  // unchanged, so no workflow decision changed and recorded histories replay as before.
  const settings = allowedCommand(input.command, runtime.agents);
  const proposal = await proposeWithCommand({
    repo,
    tag: input.tag,
    n: input.n,
    ...(input.round ? { round: input.round } : {}),
    parent: input.parent,
    ctx: await promptContext(repo, input),
    settings,
    editableFiles: input.config.files.editable,
    proposalsDir: proposalsDir(input),
    attempt: runtime.attempt ?? 1,
    cancel: runtime.cancel,
  });
  const { files, description } = proposal;
  if (proposal.invalid) return { files, description, invalid: proposal.invalid };
  // The tree the gate wrote is the candidate's: the step does not write it again.
  const checked = await checkedTree(repo, input, files);
  return 'problem' in checked
    ? { files, description, invalid: checked.problem }
    : { files, description, tree: checked.tree };
}

export interface CommandProposal {
  files: Record<string, string>;
  description: string;
  invalid?: string;
}

export interface CommandRequest {
  repo: Repo;
  tag: string;
  n: number;
  /** A second (third ...) proposal for this number, after the first no longer applied to a newer best. */
  round?: number;
  parent: string;
  ctx: PromptContext;
  settings: CommandSettings;
  editableFiles: string[];
  /** Where the prompt, the description and the agent's log are kept. */
  proposalsDir: string;
  /** Temporal's attempt number of the proposal step (1 for the first). */
  attempt?: number;
  /** Aborted when the step is cancelled (`pause --now`, a timeout): the agent's process group is killed. */
  cancel?: AbortSignal;
}

/** How long the agent of an earlier attempt may take to die once it got SIGKILL. */
const REAP_TIMEOUT_MS = 60_000;

export async function proposeWithCommand(request: CommandRequest): Promise<CommandProposal> {
  const { repo, settings } = request;
  // A worktree per proposal: with pipelining or several slots, proposals for different experiments run
  // at once.
  const name = proposalName(request.n, request.round);
  // Unique even when a cancelled step and the step asked after `resume` both are attempt 1.
  const attempt = `attempt${request.attempt ?? 1}-${randomBytes(3).toString('hex')}`;
  const worktrees = path.join(repo.commonDir, 'autoresearch', 'propose', request.tag);
  const worktree = path.join(worktrees, `${name}-${attempt}`);
  const stem = path.join(request.proposalsDir, name);
  // The attempts' pid files and which one is live, in a directory of this proposal's own (a run's
  // proposals directory grows with every experiment: it is never listed).
  const attempts = `${stem}.attempts`;
  mkdirSync(attempts, { recursive: true });
  // This attempt is the live one from now on: an earlier one that has not started its agent yet sees
  // it and starts none (it writes its pid file first and reads this after; this attempt writes this
  // first and reads the pid files after, so one of the two always sees the other).
  const liveFile = path.join(attempts, 'live');
  writeFileSync(liveFile, attempt);
  const isLive = () => existsSync(liveFile) && readFileSync(liveFile, 'utf8') === attempt;
  const supersededError = () =>
    ApplicationFailure.create({
      type: ERROR_TYPE.proposalSuperseded,
      message: `a later attempt of the proposal for experiment ${request.n} took over; this attempt stopped its agent`,
    });
  await stopEarlierAttempts(repo, stem, worktrees, name, attempt);
  const promptFile = `${stem}.prompt.md`;
  const descriptionFile = `${stem}.description`;

  const superseded = new AbortController();
  const cancel = request.cancel ? AbortSignal.any([request.cancel, superseded.signal]) : superseded.signal;
  await checkoutWorktree(repo, worktree, request.parent);
  try {
    // From this check to the agent's start nothing awaits: a later attempt in this worker cannot come
    // in between and have its files overwritten.
    if (!isLive()) throw supersededError();
    writeFileSync(
      promptFile,
      `${systemPrompt(request.ctx, 'files')}\n\n${userPrompt(request.ctx, 'files')}\n`,
    );
    writeFileSync(descriptionFile, '');
    const running = runSupervised({
      command: settings.command,
      cwd: worktree,
      // The agent runs code of its own choosing: it gets no secret the operator did not pass on by name.
      env: {
        ...withoutSecrets(process.env, settings.passEnv),
        AUTORESEARCH_PROMPT_FILE: promptFile,
        AUTORESEARCH_DESCRIPTION_FILE: descriptionFile,
        AUTORESEARCH_EXPERIMENT: String(request.n),
      },
      logPath: `${stem}.command.log`,
      timeoutSeconds: settings.timeoutSeconds,
      cancel,
      // Outside the worktree, in the run's directory: where a later attempt looks for this agent.
      pidFile: path.join(attempts, `${attempt}.pid`),
      // Proposals are made while slots train (pipelining): on a shared machine the trainings go first.
      nice: AGENT_NICENESS,
    });
    // The pid file is written by now (before runSupervised's first await): a later attempt in another
    // process either finds it, or has written the live file before this reads it.
    if (!isLive()) superseded.abort();
    const result = await running;
    if (request.cancel?.aborted)
      throw new CancelledFailure("the proposal was cancelled; the agent's process group was killed");
    if (!isLive()) throw supersededError();
    const log = readTail(`${stem}.command.log`, 8192);
    const lastLine = logTail(log, 1);
    // The agent's own description, even for an invalid edit: it says what was attempted.
    const written = readFileSync(descriptionFile, 'utf8').split('\n')[0]!.trim();
    const description = (written || lastLine || 'edit by the command proposer').slice(0, 120);
    const fail = (invalid: string): CommandProposal => ({ files: {}, description, invalid });
    if (result.timedOut)
      return fail(
        `the proposer command timed out after ${settings.timeoutSeconds}s and was killed; ` +
          `give it longer with --proposer-timeout (its log: ${stem}.command.log)`,
      );
    if (result.exitCode !== 0)
      return fail(
        `the proposer command failed (exit ${result.exitCode}): ${lastLine} (its log: ${stem}.command.log)`,
      );

    // An agent that staged or committed its work (coding agents often do) is read like one that did
    // not: everything is compared with the parent. HEAD is detached first, so no branch the agent may
    // have checked out is moved.
    await repo.rawIn(worktree, ['update-ref', '--no-deref', 'HEAD', request.parent]);
    await repo.rawIn(worktree, ['reset', '-q']);
    const changes = await worktreeChanges(repo, worktree);
    for (const change of changes) {
      const problem = changeProblem(worktree, change, request.editableFiles);
      if (problem) return fail(problem);
    }
    const files: Record<string, string> = {};
    for (const { path: file } of changes) files[file] = readFileSync(path.join(worktree, file), 'utf8');
    if (Object.keys(files).length === 0)
      return fail(
        `the proposer command made no change to the editable files (${request.editableFiles.join(', ')}) in its ` +
          'worktree; it must edit them in place there (writes elsewhere, or through a symbolic link, do not count)',
      );
    return { files, description };
  } finally {
    // Only this attempt's own worktree: a later attempt's is its own business.
    await repo.worktree(['remove', '--force', worktree]).catch(() => undefined);
    if (isLive()) rmSync(attempts, { recursive: true, force: true });
  }
}

/**
 * Why one change the agent made cannot be part of an edit, or null: only the editable files may change,
 * in place, as regular files (a link would commit a path, not code, and could point outside the repo).
 */
function changeProblem(worktree: string, change: WorktreeChange, editable: string[]): string | null {
  const link = firstLink(worktree, change.path);
  const linkText = link && `${link} -> ${readlinkSync(path.join(worktree, link))}`;
  const allowed = `only the editable files may change (editable: ${editable.join(', ')})`;
  if (!editable.includes(change.path)) {
    if (change.kind === 'added')
      return link
        ? `the proposer command added a symbolic link (${linkText}), but ${allowed}; edit them in place`
        : `the proposer command added ${change.path}, a new file, but ${allowed}; put the code in one of them`;
    const verb = change.kind === 'deleted' ? 'deleted' : 'changed';
    return `the proposer command ${verb} ${change.path}, which is not editable (editable: ${editable.join(', ')})`;
  }
  if (link)
    return (
      `the proposer command turned ${change.path} into a symbolic link (${linkText}): autoresearch commits ` +
      'file contents, never links; edit the file in place'
    );
  if (change.kind === 'deleted')
    return `the proposer command deleted ${change.path}: an editable file must stay; edit it in place instead`;
  return null;
}

/** The first of `file` and its parent directories (inside `root`) that is a symbolic link, or null. */
function firstLink(root: string, file: string): string | null {
  const parts = file.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    try {
      if (lstatSync(path.join(root, prefix)).isSymbolicLink()) return prefix;
    } catch {
      return null; // gone (a deletion): nothing to follow
    }
  }
  return null;
}

/**
 * Stops the agents of earlier attempts of this proposal (a step Temporal retried, or one cancelled by
 * `pause --now` and asked again after `resume`) and removes their worktrees. Their pid files name the
 * process groups; where /proc can tell, only a group that is an agent's (its supervisor, or a process
 * working in that attempt's worktree) is killed, so a reused number hits nothing else.
 */
async function stopEarlierAttempts(
  repo: Repo,
  stem: string,
  worktrees: string,
  name: string,
  mine: string,
): Promise<void> {
  const pidFiles = readdirSync(`${stem}.attempts`)
    .filter((file) => file.endsWith('.pid') && file !== `${mine}.pid`)
    .map((file) => ({ file: path.join(`${stem}.attempts`, file), worktree: `${name}-${file.slice(0, -4)}` }));
  // `exp-0001.pid` and the worktree `exp-0001`: a worker of the version before attempts had their own.
  if (existsSync(`${stem}.pid`)) pidFiles.push({ file: `${stem}.pid`, worktree: name });
  for (const { file, worktree } of pidFiles) {
    const pgid = Number(readFileSync(file, 'utf8'));
    // The agent starts in its attempt's worktree, a path unique to the attempt: a pid reused since by an
    // unrelated program, or by a training, does not match. Without /proc to ask, the pid file is trusted.
    if (Number.isInteger(pgid) && pgid > 0 && groupWorksIn(pgid, path.join(worktrees, worktree)) !== false) {
      killGroup(pgid, 'SIGKILL');
      await groupGone(pgid, REAP_TIMEOUT_MS, 'The agent of an earlier attempt');
    }
    rmSync(file, { force: true });
  }
  for (const entry of existsSync(worktrees) ? readdirSync(worktrees) : []) {
    if (entry === `${name}-${mine}` || (entry !== name && !entry.startsWith(`${name}-attempt`))) continue;
    await repo.worktree(['remove', '--force', path.join(worktrees, entry)]).catch(() => undefined);
    rmSync(path.join(worktrees, entry), { recursive: true, force: true });
  }
  // What git still lists of them is pruned by checkoutWorktree, which creates this attempt's next.
}
