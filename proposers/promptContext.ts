// What an LLM proposer (claude, or a coding agent given the same prompt) is shown: the program, the code
// at the parent, the results so far, the operator's notes and queued idea, the last crash.
import type { Repo } from '../store/git';
import { readRecords } from '../store/runDirectory';
import type { PromptContext } from './claude/prompt';
import type { ProposeInput } from './proposal';

export async function promptContext(repo: Repo, input: ProposeInput): Promise<PromptContext> {
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
