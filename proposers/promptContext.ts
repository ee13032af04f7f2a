// What an LLM proposer (claude, or a coding agent given the same prompt) is shown: the program, the code
// at the parent, the results so far, the operator's notes and queued idea, the last crash. The results
// come from the end of the results index (store/resultsIndex.ts), and the last crash from its own record:
// a proposal reads the same few entries at experiment 10,000 as at 100, never every record.
import { readFileSync } from 'node:fs';
import type { ExperimentRecord } from '../common/types';
import type { Repo } from '../store/git';
import { recentResults } from '../store/resultsIndex';
import { experimentRecordPath, readRecords } from '../store/runDirectory';
import { LISTED_RESULTS, type PromptContext } from './claude/prompt';
import type { ProposeInput } from './proposal';

/** The last results the prompt lists and how many came before; every record for a run with no index. */
function results(runDir: string): { results: PromptContext['results']; earlierResults?: number } {
  const index = recentResults(runDir, LISTED_RESULTS);
  if (!index) return { results: readRecords(runDir) };
  return { results: index.recent, earlierResults: index.total - index.recent.length };
}

/** The last experiment's log tail when it crashed (or timed out): read from that one record. */
function lastCrash(
  runDir: string,
  last: PromptContext['results'][number] | undefined,
): PromptContext['lastCrash'] {
  if (!last || !['crash', 'timeout'].includes(last.status)) return undefined;
  const record = JSON.parse(readFileSync(experimentRecordPath(runDir, last.n), 'utf8')) as ExperimentRecord;
  return record.logTail
    ? { n: record.n, description: record.description, reason: record.reason, logTail: record.logTail }
    : undefined;
}

export async function promptContext(repo: Repo, input: ProposeInput): Promise<PromptContext> {
  const read = async (files: string[]) =>
    Object.fromEntries(
      await Promise.all(files.map(async (f) => [f, (await repo.readFile(input.parent, f)) ?? ''] as const)),
    );
  const { config } = input;
  const listed = results(input.runDir);
  return {
    program: config.files.program ? await repo.readFile(input.parent, config.files.program) : null,
    editable: await read(config.files.editable),
    frozen: await read(config.files.frozen),
    metricName: config.metric.name,
    direction: config.metric.direction,
    budgetSeconds: config.train.budgetSeconds,
    n: input.n,
    ...listed,
    notes: input.notes,
    idea: input.idea,
    lastCrash: lastCrash(input.runDir, listed.results.at(-1)),
  };
}
