// The `command` proposer: any coding-agent CLI (Claude Code in headless mode, for instance) edits the
// files in a worktree of the parent, given the same prompt the claude proposer sends. The agent's
// changes are read back from git and pass the same gate as every other edit.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { logTail } from '../metrics';
import { systemPrompt, userPrompt, type PromptContext } from '../proposers/claudePrompt';
import type { CommandSettings } from '../types';
import type { Repo } from './git';
import { readTail, runSupervised } from './runSupervised';
import { changedInWorktree, checkoutWorktree, cleanWorktree } from './slot';

export interface CommandProposal {
  files: Record<string, string>;
  description: string;
  invalid?: string;
}

export interface CommandRequest {
  repo: Repo;
  tag: string;
  n: number;
  parent: string;
  ctx: PromptContext;
  settings: CommandSettings;
  editableFiles: string[];
  /** Where the prompt, the description and the agent's log are kept. */
  proposalsDir: string;
}

export async function proposeWithCommand(request: CommandRequest): Promise<CommandProposal> {
  const { repo, settings } = request;
  const worktree = path.join(repo.commonDir, 'autoresearch', 'propose', request.tag);
  const stem = path.join(request.proposalsDir, `exp-${String(request.n).padStart(4, '0')}`);
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
      env: {
        ...process.env,
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
    if (result.timedOut) return fail(`the proposer command timed out after ${settings.timeoutSeconds}s`);
    if (result.exitCode !== 0)
      return fail(`the proposer command failed (exit ${result.exitCode}): ${lastLine}`);

    const changed = await changedInWorktree(repo, worktree);
    const outside = changed.filter((f) => !request.editableFiles.includes(f));
    if (outside.length > 0)
      return fail(
        `the proposer command changed ${outside.join(', ')}, which is not editable (editable: ${request.editableFiles.join(', ')})`,
      );
    const files: Record<string, string> = {};
    for (const file of changed) {
      const full = path.join(worktree, file);
      files[file] = existsSync(full) ? readFileSync(full, 'utf8') : '';
    }
    if (Object.keys(files).length === 0) return fail('the proposer command made no change');
    return { files, description };
  } finally {
    await cleanWorktree(repo, worktree, request.parent);
  }
}
