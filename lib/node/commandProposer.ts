// The `command` proposer: any coding-agent CLI (Claude Code in headless mode, for instance) edits the
// files in a worktree of the parent, given the same prompt the claude proposer sends. The agent's
// changes are read back from git and pass the same gate as every other edit.
import { lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { logTail } from '../metrics';
import { systemPrompt, userPrompt, type PromptContext } from '../proposers/claudePrompt';
import type { CommandSettings } from '../types';
import type { Repo } from './git';
import { readTail, runSupervised } from './runSupervised';
import { checkoutWorktree, worktreeChanges, type WorktreeChange } from './slot';
import { withoutSecrets } from './trainingEnv';

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
}

export async function proposeWithCommand(request: CommandRequest): Promise<CommandProposal> {
  const { repo, settings } = request;
  // A worktree per proposal: with pipelining or several slots, proposals for different experiments run
  // at once.
  const name = `exp-${String(request.n).padStart(4, '0')}${request.round ? `-round${request.round}` : ''}`;
  const worktree = path.join(repo.commonDir, 'autoresearch', 'propose', request.tag, name);
  const stem = path.join(request.proposalsDir, name);
  mkdirSync(request.proposalsDir, { recursive: true });
  const promptFile = `${stem}.prompt.md`;
  const descriptionFile = `${stem}.description`;
  writeFileSync(promptFile, `${systemPrompt(request.ctx, 'files')}\n\n${userPrompt(request.ctx, 'files')}\n`);
  writeFileSync(descriptionFile, '');

  await checkoutWorktree(repo, worktree, request.parent);
  try {
    const result = await runSupervised({
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
      pidFile: `${stem}.pid`,
    });
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
    await repo.raw(['worktree', 'remove', '--force', worktree]).catch(() => undefined);
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
