// Step 4 of an experiment: make the decision durable outside Temporal. On keep the research branch
// moves to the candidate (compare-and-swap, invariant 2); the record is written as a file of its own and
// results.tsv is rewritten from all records: a projection, so a retry writes the same bytes.
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { formatResultsTsv } from '../lib/resultsTsv';
import type { ExperimentRecord } from '../lib/types';
import { Repo } from '../lib/node/git';
import { experimentRecordPath, resultsPath } from '../lib/node/runPaths';

export interface RecordInput {
  repo: string;
  runDir: string;
  branch: string;
  record: ExperimentRecord;
  /** Where the branch is before this experiment (the candidate's parent). */
  previousBest: string;
}

export async function recordExperiment(input: RecordInput): Promise<void> {
  const { record } = input;
  if (record.status === 'keep' && record.n > 0) {
    const repo = await Repo.open(input.repo);
    await repo.moveRef(`refs/heads/${input.branch}`, record.commit, input.previousBest);
  }
  writeAtomically(experimentRecordPath(input.runDir, record.n), JSON.stringify(record, null, 2) + '\n');
  writeAtomically(resultsPath(input.runDir), formatResultsTsv(readRecords(input.runDir)));
}

export function readRecords(runDir: string): ExperimentRecord[] {
  const dir = path.join(runDir, 'experiments');
  let names: string[];
  try {
    names = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  return names
    .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as ExperimentRecord)
    .sort((a, b) => a.n - b.n);
}

/** Readers (the CLI, a person with `cat`) never see a half-written file. */
function writeAtomically(file: string, content: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, content);
  renameSync(tmp, file);
}
