// The `claude` proposer: Claude reads the program, the code and the results, and answers with a
// structured edit through tool use. A broken edit gets one repair round with the error shown to the model.
// Retries belong to Temporal, not to the SDK (maxRetries: 0): rate limits, overload and 5xx become
// retryable failures that honour retry-after; a bad key or a bad request fails fast with the fix named.
import Anthropic from '@anthropic-ai/sdk';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { applyEdits, EditError, type FileEdit } from '../applyEdits';
import { PROPOSE_TOOL, systemPrompt, userPrompt, type PromptContext } from './prompt';
import { addCost, noSpend, priceOf, type ProposalCost } from '../pricing';
import type { ClaudeSettings } from '../../common/types';
import { proposerRefused as refused } from '../../common/errors';
import { ERROR_TYPE } from '../../common/names';
import { readSignedMarker, writeSignedMarker } from '../../store/signedMarker';
import type { Repo } from '../../store/git';
import { candidateProblem } from '../editGate';
import { promptContext } from '../promptContext';
import { proposalName, proposalsDir, type Edit, type ProposeInput, type ProposerRuntime } from '../proposal';
import { CALL_TIMEOUT_SECONDS, DEFAULT_CLAUDE } from './settings';

/** Claude's edit, checked like any other, plus "not tried before": a duplicate costs no GPU time. */
export async function proposeByClaude(
  repo: Repo,
  input: ProposeInput,
  runtime: ProposerRuntime,
): Promise<Edit> {
  const proposal = await proposeWithClaude({
    ctx: await promptContext(repo, input),
    settings: input.claude ?? DEFAULT_CLAUDE,
    editableFiles: input.config.files.editable,
    answerFile: answerFile(input),
    check: (files) => candidateProblem(repo, input, files),
    cancel: runtime.cancel,
  });
  return {
    files: proposal.files,
    description: proposal.description,
    extra: { hypothesis: proposal.hypothesis, cost: proposal.cost },
    invalid: proposal.invalid,
  };
}

/** The hypothesis and cost of a claude proposal that was committed before a crash. */
export function savedClaudeExtra(input: ProposeInput): Edit['extra'] {
  const saved = readSavedAnswer(answerFile(input));
  if (!saved) return {};
  const { hypothesis, cost } = saved;
  return { hypothesis, cost };
}

function answerFile(input: ProposeInput): string {
  return path.join(proposalsDir(input), `${proposalName(input.n, input.round)}.json`);
}

export interface ClaudeProposal {
  files: Record<string, string>;
  description: string;
  hypothesis: string;
  cost: ProposalCost;
  /** Set when even the repaired edit was unusable: the experiment is recorded as invalid, nothing trains. */
  invalid?: string;
}

export interface ClaudeRequest {
  ctx: PromptContext;
  settings: ClaudeSettings;
  editableFiles: string[];
  /** Why a set of new file contents cannot be a candidate (does not parse, already tried...), or null. */
  check: (files: Record<string, string>) => Promise<string | null>;
  /** Where the answer is saved as soon as it arrives, so a retried activity does not pay twice. */
  answerFile: string;
  /** Aborted when the step is cancelled (`pause --now`, a timeout): the call in progress is abandoned. */
  cancel?: AbortSignal;
}

interface ToolInput {
  description?: unknown;
  hypothesis?: unknown;
  edits?: unknown;
}

export async function proposeWithClaude(request: ClaudeRequest): Promise<ClaudeProposal> {
  const saved = readSavedAnswer(request.answerFile);
  if (saved) return saved;
  if (!process.env.ANTHROPIC_API_KEY)
    throw refused(
      'ANTHROPIC_API_KEY is not set on the worker that runs proposals: set it there and resume the run.',
    );
  const client = new Anthropic({ maxRetries: 0, timeout: CALL_TIMEOUT_SECONDS * 1000 });
  const messages: Anthropic.MessageParam[] = [{ role: 'user', content: userPrompt(request.ctx) }];
  mkdirSync(path.dirname(request.answerFile), { recursive: true });
  let answer: Answer;
  for (let round = 0; ; round++) {
    const response = await callClaude(client, request.settings, request.ctx, messages, request.cancel);
    // Paid for as soon as it arrives, whatever happens to this attempt next: recorded outside it.
    appendFileSync(
      paidFile(request.answerFile),
      `${JSON.stringify({
        inputTokens: response.usage.input_tokens,
        outputTokens: response.usage.output_tokens,
        cacheCreationTokens: response.usage.cache_creation_input_tokens ?? 0,
        cacheReadTokens: response.usage.cache_read_input_tokens ?? 0,
        dollars: 0,
      })}\n`,
    );
    answer = await readAnswer(request, response);
    if (!answer.problem || round === 1) break;
    // The repair round: show the model what went wrong with its own answer.
    messages.push({ role: 'assistant', content: response.content });
    messages.push({
      role: 'user',
      content: answer.toolUseId
        ? [
            {
              type: 'tool_result',
              tool_use_id: answer.toolUseId,
              is_error: true,
              content: `The edit was rejected: ${answer.problem}. Fix it and call propose_edit again.`,
            },
          ]
        : `Your answer was rejected: ${answer.problem}. Call propose_edit.`,
    });
  }
  // Every call this proposal paid for, in this attempt and in earlier ones that failed after the API
  // answered, priced once on their summed usage; the saved answer then holds the total, so a retry
  // that reads it counts nothing twice.
  const cost = paidSoFar(request.answerFile);
  cost.dollars = priceOf(request.settings.model, cost);
  const proposal: ClaudeProposal = {
    files: answer.files,
    description: answer.description || '(unusable proposal)',
    hypothesis: answer.hypothesis,
    cost,
    ...(answer.problem ? { invalid: answer.problem } : {}),
  };
  saveAnswer(request.answerFile, proposal);
  return proposal;
}

/** One reply, read: the edit it makes, or the problem with it (in words the model can act on). */
interface Answer {
  files: Record<string, string>;
  description: string;
  hypothesis: string;
  problem?: string;
  toolUseId?: string;
}

async function readAnswer(request: ClaudeRequest, response: Anthropic.Message): Promise<Answer> {
  const call = response.content.find(
    (b): b is Anthropic.ToolUseBlock => b.type === 'tool_use' && b.name === PROPOSE_TOOL.name,
  );
  const input = (call?.input ?? {}) as ToolInput;
  const description = typeof input.description === 'string' ? input.description.split('\n')[0]!.trim() : '';
  const hypothesis = typeof input.hypothesis === 'string' ? input.hypothesis.trim() : '';
  const answer: Answer = { files: {}, description, hypothesis, toolUseId: call?.id };
  if (!call) return { ...answer, problem: 'you did not call the propose_edit tool' };
  if (!description) return { ...answer, problem: 'the description is empty' };
  try {
    const files = applyEdits(request.ctx.editable, request.editableFiles, input.edits as FileEdit[]);
    const problem = await request.check(files);
    return problem ? { ...answer, problem } : { ...answer, files };
  } catch (err) {
    if (err instanceof EditError) return { ...answer, problem: err.message };
    throw err;
  }
}

async function callClaude(
  client: Anthropic,
  settings: ClaudeSettings,
  ctx: PromptContext,
  messages: Anthropic.MessageParam[],
  cancel: AbortSignal | undefined,
): Promise<Anthropic.Message> {
  try {
    return await client.messages.create(
      {
        model: settings.model,
        max_tokens: settings.maxTokens,
        // The stable prefix (role, program, frozen files) is cached across experiments, for an hour: with
        // 5-minute trainings between proposals, the default 5-minute cache would expire every time.
        system: [{ type: 'text', text: systemPrompt(ctx), cache_control: { type: 'ephemeral', ttl: '1h' } }],
        tools: [PROPOSE_TOOL],
        // Extended thinking does not allow a forced tool choice.
        tool_choice: settings.thinkingBudget ? { type: 'auto' } : { type: 'tool', name: PROPOSE_TOOL.name },
        ...(settings.thinkingBudget
          ? { thinking: { type: 'enabled', budget_tokens: settings.thinkingBudget } }
          : {}),
        messages,
      },
      cancel ? { signal: cancel } : {},
    );
  } catch (err) {
    if (cancel?.aborted) throw new CancelledFailure('the proposal was cancelled during its API call');
    throw asTemporalFailure(err);
  }
}

/** The usage of every API call made for one proposal, one JSON line each, next to its answer. */
function paidFile(answerFile: string): string {
  return `${answerFile.replace(/\.json$/, '')}.paid.jsonl`;
}

function paidSoFar(answerFile: string): ProposalCost {
  const file = paidFile(answerFile);
  if (!existsSync(file)) return noSpend();
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .reduce((sum, line) => {
      try {
        return addCost(sum, JSON.parse(line) as ProposalCost);
      } catch {
        return sum; // a line cut short by a crash while it was written
      }
    }, noSpend());
}

/** Maps an API error to what Temporal should do with it. */
export function asTemporalFailure(err: unknown): unknown {
  if (err instanceof Anthropic.AuthenticationError)
    return refused(
      `The Anthropic API rejected the key (401): check ANTHROPIC_API_KEY on the worker, then resume the run. ${err.message}`,
    );
  if (err instanceof Anthropic.PermissionDeniedError)
    return refused(
      `The Anthropic API denied access (403): the key may lack access to this model. ${err.message}`,
    );
  if (err instanceof Anthropic.NotFoundError)
    return refused(
      `The Anthropic API does not know this model (404): pick another with --model. ${err.message}`,
    );
  if (err instanceof Anthropic.BadRequestError || err instanceof Anthropic.UnprocessableEntityError)
    return refused(`The Anthropic API refused the request (${err.status}): ${err.message}`);
  if (err instanceof Anthropic.APIError || err instanceof Anthropic.APIConnectionError) {
    const status = err instanceof Anthropic.APIError ? err.status : undefined;
    const retryAfter = Number(err instanceof Anthropic.APIError ? err.headers?.get('retry-after') : NaN);
    return ApplicationFailure.create({
      message: `The Anthropic API is unavailable (${status ?? 'connection'}): ${err.message}; retrying.`,
      type: ERROR_TYPE.anthropicUnavailable,
      // Only when the API said how long to wait; otherwise the activity's backoff applies.
      ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { nextRetryDelay: `${retryAfter} seconds` } : {}),
    });
  }
  return err;
}

/**
 * Saved signed, and read back only when this worker signed it for this file: an answer a training
 * planted in the run directory would otherwise become the next candidate unasked (an unsigned one, e.g.
 * saved by an earlier version, means one more API call).
 */
function saveAnswer(file: string, proposal: ClaudeProposal): void {
  writeSignedMarker(file, { purpose: 'answer', file: path.resolve(file) }, proposal);
}

/** The answer this worker saved in `file`, or null (none, or not its own). */
export function readSavedAnswer(file: string): ClaudeProposal | null {
  return readSignedMarker<ClaudeProposal>(file, { purpose: 'answer', file: path.resolve(file) });
}
