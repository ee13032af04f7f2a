// Wiring only: start a run and reach a running one. The CLI (`cli/`) and the tests use these.
import {
  WorkflowExecutionAlreadyStartedError,
  type Client,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import proto from '@temporalio/proto';
import path from 'node:path';
import { resolveRemote } from './store/remote';
import { preflight } from './target/inspection';
import { ALL_SEARCH_ATTRIBUTES, STATUS, TAG, TARGET } from './common/searchAttributes';
import { CLAUDE_PROPOSAL_SECONDS, DEFAULT_CLAUDE } from './proposers/claude/settings';
import type { ClaudeSettings, CommandSettings, KeepRule, ProposerKind, RunOptions } from './common/types';
import { WORKFLOW_TYPE, branchName, workflowIdFor } from './common/names';
import { CONTROL_TASK_QUEUE, TRAIN_TASK_QUEUE } from './temporal/queues';
import type { researchLoop } from './workflows';
import { describeKeepRule } from './workflows/keepRule';
import { targetName } from './workflows/projections';

// The CLI and the tests reach a run by its tag through here.
export { workflowIdFor };

export interface StartRunRequest {
  repo: string;
  tag: string;
  proposer?: ProposerKind;
  maxExperiments?: number;
  /** No experiment starts after this moment. */
  deadline?: Date;
  seed?: number;
  budgetSeconds?: number;
  timeoutSeconds?: number;
  experimentsPerRun?: number;
  /** Experiments in flight at once, one per slot (default 1). */
  parallel?: number;
  /** Propose the next experiment while the current one trains (default true). */
  pipeline?: boolean;
  /** Baseline trainings with different seeds, to measure the metric's noise (default 3; 1: once). */
  noiseRuns?: number;
  /** `strict` (autoresearch's) or `noise-aware` (the default when the noise is measured). */
  keepRule?: KeepRule['rule'];
  /** noise-aware: standard errors a gain must exceed (default 2). */
  noiseMargin?: number;
  /** noise-aware: more seeds a doubtful candidate trains (default 2). */
  confirmRuns?: number;
  /** noise-aware: keeps after which the noise is measured again, on the next keep (default 3). */
  noiseStaleAfter?: number;
  heartbeatTimeoutSeconds?: number;
  taskQueue?: string;
  trainTaskQueue?: string;
  maxDollars?: number;
  maxTokens?: number;
  /** The command proposer's CLI and its timeout. */
  command?: CommandSettings;
  /** Settings of the claude proposer (model, max tokens, thinking budget). */
  claude?: Partial<ClaudeSettings>;
  /** A git remote every worker reaches, for training on other machines (see RunOptions.remote). */
  remote?: string;
}

/** What `start` uses for the options a request leaves out (the CLI shows them in its help). */
export const START_DEFAULTS = {
  parallel: 1,
  noiseRuns: 3,
  noiseMargin: 2,
  confirmRuns: 2,
  noiseStaleAfter: 3,
} as const;

/** The run's keep rule from the request, each setting checked; noise-aware needs the noise measured. */
function keepRuleOf(request: StartRunRequest): KeepRule {
  const noiseRuns = request.noiseRuns ?? START_DEFAULTS.noiseRuns;
  const rule = request.keepRule ?? (noiseRuns >= 2 ? 'noise-aware' : 'strict');
  if (rule !== 'strict' && rule !== 'noise-aware')
    throw new Error(`--keep-rule is strict or noise-aware; got ${String(rule)}`);
  if (rule === 'noise-aware' && noiseRuns < 2)
    throw new Error(
      '--keep-rule noise-aware needs the noise measured: leave --noise-runs at 3 (or 2 or more), or use --keep-rule strict',
    );
  const margin = request.noiseMargin ?? START_DEFAULTS.noiseMargin;
  if (!Number.isFinite(margin) || margin <= 0)
    throw new Error(
      `--noise-margin takes how many standard errors a gain must exceed, above 0 (e.g. 2); got ${margin}`,
    );
  const confirmRuns = request.confirmRuns ?? START_DEFAULTS.confirmRuns;
  if (!Number.isInteger(confirmRuns) || confirmRuns < 0 || confirmRuns > 16)
    throw new Error(
      `--confirm-runs takes how many more seeds a doubtful candidate trains, 0 to 16; got ${confirmRuns}`,
    );
  const staleAfterKeeps = request.noiseStaleAfter ?? START_DEFAULTS.noiseStaleAfter;
  if (!Number.isInteger(staleAfterKeeps) || staleAfterKeeps < 1)
    throw new Error(
      `--noise-stale-after takes how many keeps the noise estimate lasts, 1 or more; got ${staleAfterKeeps}`,
    );
  return { rule, margin, confirmRuns, staleAfterKeeps, identicalRunsExact: true };
}

/** A started run's handle, and the baseline commit `start` checked and pinned in the run. */
export type StartedRun = WorkflowHandleWithFirstExecutionRunId<typeof researchLoop> & { baseline: string };

export async function startRun(client: Client, request: StartRunRequest): Promise<StartedRun> {
  const repo = path.resolve(request.repo);
  const remote = request.remote === undefined ? undefined : resolveRemote(request.remote);
  // Fail here, at the keyboard, rather than inside the workflow a second later.
  const { base: baseline } = await preflight(repo, request.tag, { ...request, remote });
  const parallel = request.parallel ?? START_DEFAULTS.parallel;
  if (request.noiseRuns !== undefined && (!Number.isInteger(request.noiseRuns) || request.noiseRuns < 1))
    throw new Error(
      `--noise-runs takes how many times the baseline trains (with different seeds), 1 or more; got ${request.noiseRuns}`,
    );
  const keepRule = keepRuleOf(request);
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 256)
    throw new Error(
      `--parallel takes the number of experiments in flight at once, 1 to 256 (one per training slot); got ${parallel}`,
    );
  const searchAttributes = await ensureSearchAttributes(client);
  const options: RunOptions = {
    tag: request.tag,
    repo,
    // The commit checked here is the baseline, however late a worker first picks the run up.
    baseline,
    ...(remote !== undefined ? { remote } : {}),
    proposer: request.proposer ?? 'mutate',
    maxExperiments: request.maxExperiments,
    ...(request.deadline ? { deadline: request.deadline.toISOString() } : {}),
    seed: request.seed ?? 0,
    budgetSeconds: request.budgetSeconds,
    timeoutSeconds: request.timeoutSeconds,
    parallel,
    pipeline: request.pipeline ?? true,
    noiseRuns: request.noiseRuns ?? START_DEFAULTS.noiseRuns,
    // A target that sets no seed (karpathy/autoresearch) measures its noise by repeating the run.
    repeatUnseeded: true,
    keepRule,
    // Continuing as new waits for the experiments in flight: with more slots, do it less often.
    experimentsPerRun: request.experimentsPerRun ?? 25 * parallel,
    trainTaskQueue: request.trainTaskQueue ?? TRAIN_TASK_QUEUE,
    heartbeatTimeoutSeconds: request.heartbeatTimeoutSeconds ?? 30,
    trainStepBound: 'all-parts',
    proposeTimeoutSeconds: proposeTimeoutSeconds(request),
    searchAttributes,
    maxDollars: request.maxDollars,
    maxTokens: request.maxTokens,
    ...(claudeOptions(request) ?? {}),
    ...(request.proposer === 'command' ? { command: commandOptions(request) } : {}),
  };
  try {
    const handle = await client.workflow.start<typeof researchLoop>(WORKFLOW_TYPE, {
      taskQueue: request.taskQueue ?? CONTROL_TASK_QUEUE,
      workflowId: workflowIdFor(request.tag),
      args: [options],
      staticSummary: `autoresearch ${request.tag}: ${options.proposer} proposer on ${targetName(repo)}`,
      staticDetails: staticDetails(options),
      ...(searchAttributes
        ? {
            typedSearchAttributes: [
              { key: TAG, value: options.tag },
              { key: TARGET, value: targetName(repo) },
              { key: STATUS, value: 'running' },
            ],
          }
        : {}),
    });
    return Object.assign(handle, { baseline });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError)
      throw new Error(
        `A run with tag "${request.tag}" is already running (workflow ${workflowIdFor(request.tag)}): ` +
          'watch it with `autoresearch status`, or pick another --tag.',
        { cause: err },
      );
    throw err;
  }
}

/** The run's fixed facts and how to steer it, shown on its page in the Web UI (Markdown). */
function staticDetails(options: RunOptions): string {
  const id = workflowIdFor(options.tag);
  const proposer =
    options.proposer === 'claude'
      ? `claude (${options.claude?.model})`
      : options.proposer === 'command'
        ? `command (\`${options.command?.command}\`)`
        : `mutate (seed ${options.seed})`;
  // One bullet per fact: the UI renders Markdown, where single newlines would run lines together.
  return [
    `- **Target**: \`${options.repo}\`, branch \`${branchName(options.tag)}\``,
    ...(options.remote
      ? [`- **Remote**: \`${options.remote}\` (training workers fetch the candidates from it)`]
      : []),
    `- **Proposer**: ${proposer}`,
    `- **Slots**: ${options.parallel ?? 1} experiment${(options.parallel ?? 1) > 1 ? 's' : ''} in flight` +
      (options.pipeline ? ', the next proposal made while training' : ', one step at a time'),
    `- **Limits**: ${options.maxExperiments ?? 'no'} max experiments, deadline ${options.deadline ?? 'none'}` +
      (options.budgetSeconds ? `, training budget ${options.budgetSeconds} s` : ''),
    // Chosen, not necessarily in force: the current details say which rule decides now.
    `- **Keep rule chosen**: ${describeKeepRule(options.keepRule, null)}` +
      (options.keepRule?.rule === 'noise-aware'
        ? '; in force once a noise above 0 is measured, strict until then and on a deterministic target'
        : ''),
    '',
    `Steer it with \`autoresearch pause|resume|stop|redirect|queue|limits --tag ${options.tag}\`, or:`,
    '',
    `- \`temporal workflow signal --workflow-id ${id} --name pause\``,
    `- \`temporal workflow update execute --workflow-id ${id} --name redirect --input '"your note"'\``,
  ].join('\n');
}

function claudeOptions(request: StartRunRequest): Pick<RunOptions, 'claude'> | null {
  if ((request.proposer ?? 'mutate') !== 'claude') return null;
  const claude = { ...DEFAULT_CLAUDE, ...request.claude };
  if (
    claude.thinkingBudget !== undefined &&
    (claude.thinkingBudget < 1024 || claude.thinkingBudget >= claude.maxTokens)
  )
    throw new Error(
      `--thinking ${claude.thinkingBudget} must be at least 1024 and below --max-tokens (${claude.maxTokens}).`,
    );
  if (!process.env.ANTHROPIC_API_KEY)
    console.warn('Note: ANTHROPIC_API_KEY is not set here; the worker that runs proposals needs it.');
  return { claude };
}

/**
 * How long one proposal step may take: the proposer's own bound (a coding agent's --proposer-timeout,
 * claude's calls) plus the 5 minutes every control step has, for the git work around it.
 */
function proposeTimeoutSeconds(request: StartRunRequest): number {
  const around = 5 * 60;
  switch (request.proposer ?? 'mutate') {
    case 'command':
      return (request.command?.timeoutSeconds ?? 0) + around;
    case 'claude':
      return CLAUDE_PROPOSAL_SECONDS + around;
    default:
      return around;
  }
}

function commandOptions(request: StartRunRequest): CommandSettings {
  if (!request.command?.command.trim())
    throw new Error(
      '--proposer command needs --proposer-command "<agent CLI>", e.g. \'claude -p "$(cat $AUTORESEARCH_PROMPT_FILE)"\'.',
    );
  return request.command;
}

export function runHandle(client: Client, tag: string): WorkflowHandle<typeof researchLoop> {
  return client.workflow.getHandle<typeof researchLoop>(workflowIdFor(tag));
}

/**
 * Registers the project's search attributes if the server lacks them (a dev server started elsewhere);
 * false when that is not allowed (e.g. Temporal Cloud without them): the run then works without columns.
 */
export async function ensureSearchAttributes(client: Client): Promise<boolean> {
  const namespace = client.options.namespace;
  const types = proto.temporal.api.enums.v1.IndexedValueType;
  const wanted: Record<string, proto.temporal.api.enums.v1.IndexedValueType> = {};
  for (const key of ALL_SEARCH_ATTRIBUTES)
    wanted[key.name] =
      key.type === 'DOUBLE'
        ? types.INDEXED_VALUE_TYPE_DOUBLE
        : key.type === 'INT'
          ? types.INDEXED_VALUE_TYPE_INT
          : types.INDEXED_VALUE_TYPE_KEYWORD;
  try {
    const existing = await client.connection.operatorService.listSearchAttributes({ namespace });
    const missing = Object.fromEntries(
      Object.entries(wanted).filter(([name]) => !(name in (existing.customAttributes ?? {}))),
    );
    if (Object.keys(missing).length === 0) return true;
    await client.connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
    return true;
  } catch {
    return false;
  }
}

/** The Web UI page of a run. */
export function runUiUrl(uiBase: string, namespace: string, tag: string): string {
  return `${uiBase.replace(/\/$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowIdFor(tag))}`;
}
