// Step 4 of an experiment: make the decision durable outside Temporal. On keep the research branch
// moves to the candidate (compare-and-swap: docs/ARCHITECTURE.md, invariant 2); the record is written as
// a file of its own and results.tsv and the progress chart are rewritten from all records: projections, so
// a retry writes the same bytes. A cancelled experiment's candidate moves aside (`cancelled/<n>`): its idea
// goes back to the queue, and trained under a new number it must not be refused as "tried already".
import { log } from '@temporalio/activity';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { formatResultsTsv } from '../store/resultsTsv';
import type { ExperimentRecord, MetricDirection } from '../common/types';
import { Repo } from '../store/git';
import { cancelledRef, candidateRef } from '../common/names';
import { publishRef } from '../store/remote';
import { scheduleHousekeeping } from '../store/housekeeping';
import { experimentRecordPath, readRecords, resultsPath } from '../store/runDirectory';

export interface RecordInput {
  repo: string;
  /** The run's tag; absent from older workflow code, whose run directory is named after it. */
  tag?: string;
  runDir: string;
  branch: string;
  record: ExperimentRecord;
  /** Where the branch is before this experiment (the candidate's parent). */
  previousBest: string;
  /** What the progress chart plots; absent = no chart (older workflow code). */
  chart?: { metricName: string; direction: MetricDirection; title: string };
  /** The run's git remote: on keep, the research branch is published there too. */
  remote?: string;
}

export async function recordExperiment(input: RecordInput): Promise<void> {
  const { record } = input;
  if (record.status === 'keep') {
    const repo = await Repo.open(input.repo);
    const branch = `refs/heads/${input.branch}`;
    if (record.n > 0) await repo.moveRef(branch, record.commit, input.previousBest);
    // The remote's branch moves by the same compare-and-swap (a retry finds it moved: a no-op).
    await publishRef(repo, branch, input.remote, record.n > 0 ? { expected: input.previousBest } : {});
  }
  if (record.status === 'cancelled')
    await setAsideCandidate(await Repo.open(input.repo), input.tag ?? path.basename(input.runDir), record.n);
  writeAtomically(experimentRecordPath(input.runDir, record.n), JSON.stringify(record, null, 2) + '\n');
  const records = readRecords(input.runDir);
  writeAtomically(resultsPath(input.runDir), formatResultsTsv(records, input.chart?.metricName));
  if (input.chart) await refreshChart(input.runDir, records, input.chart);
  scheduleHousekeeping(input.repo, record.n, { warn: (line) => log.warn(line) });
}

/**
 * Moves a cancelled experiment's candidate ref from `exp/<n>` to `cancelled/<n>` (there may be none: it
 * was cancelled while proposing). Idempotent: a retry finds it moved, or finishes the move.
 */
async function setAsideCandidate(repo: Repo, tag: string, n: number): Promise<void> {
  const ref = candidateRef(tag, n);
  const commit = await repo.readRef(ref);
  if (!commit) return;
  await repo.raw(['update-ref', cancelledRef(tag, n), commit]);
  await repo.raw(['update-ref', '-d', ref, commit]);
}

/** The chart is a convenience: a failure to draw it is logged, and never holds up the run. */
async function refreshChart(
  runDir: string,
  records: ExperimentRecord[],
  chart: NonNullable<RecordInput['chart']>,
): Promise<void> {
  try {
    // Loaded on first use: the charting library is large, and only this step needs it.
    const { writeProgressChart } = await import('../store/chart');
    await writeProgressChart(runDir, records, chart);
  } catch (err) {
    log.warn(`progress chart not drawn: ${(err as Error).message}`);
  }
}

/** Readers (the CLI, a person with `cat`) never see a half-written file. */
function writeAtomically(file: string, content: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, content);
  renameSync(tmp, file);
}
