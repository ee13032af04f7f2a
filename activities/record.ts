// Step 4 of an experiment: make the decision durable outside Temporal. On keep the research branch
// moves to the candidate (compare-and-swap: docs/ARCHITECTURE.md, invariant 2); the record is written as
// a file of its own, then added to results.tsv through its index (store/resultsIndex.ts: the same bytes
// as results.tsv rewritten from all records, at a cost that does not grow with the run; a retry changes
// nothing), and the progress chart is asked for, drawn in the background; every 100 experiments git's
// refs and objects are packed, in the background too (store/housekeeping.ts). A cancelled experiment's
// candidate moves aside (`cancelled/<n>`): its idea goes back to the queue, and trained under a new
// number it must not be refused as "tried already". A candidate rebased ahead (activities/rebase.ts)
// trained from `speculative/<n>`: its `exp/<n>` moves there now, and an unused one is dropped.
import { Context } from '@temporalio/activity';
import path from 'node:path';
import { requestChart } from '../store/backgroundChart';
import { addResult } from '../store/resultsIndex';
import type { ExperimentRecord, MetricDirection } from '../common/types';
import { Repo } from '../store/git';
import { cancelledRef, candidateRef, speculativeRef } from '../common/names';
import { publishRef } from '../store/remote';
import { scheduleHousekeeping } from '../store/housekeeping';
import { experimentRecordPath, writeAtomically } from '../store/runDirectory';

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
  /** The experiment was rebased ahead: `proposed` is the commit `exp/<n>` held until it trained. */
  speculation?: { proposed: string };
}

export async function recordExperiment(input: RecordInput): Promise<void> {
  const { record } = input;
  if (input.speculation)
    await settleSpeculation(await Repo.open(input.repo), input, input.speculation.proposed);
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
  addResult(input.runDir, record, input.chart?.metricName);
  // The chart and the housekeeping are conveniences, run after this step returns: a failure is logged
  // (to the activity's logger, kept now) and never holds up the run.
  const warn = activityWarning();
  if (input.chart) requestChart(input.runDir, input.chart, warn);
  scheduleHousekeeping(input.repo, record.n, { warn });
}

/**
 * After a training of a candidate rebased ahead: `exp/<n>` moves from the candidate as proposed to the
 * commit that trained (compare-and-swap; a retry finds it moved), and `speculative/<n>` goes, used or
 * not. Only a ref this run's rebase step wrote is ever followed: the workflow names the commit trained.
 */
async function settleSpeculation(repo: Repo, input: RecordInput, proposed: string): Promise<void> {
  const tag = input.tag ?? path.basename(input.runDir);
  const { n, commit } = input.record;
  const ahead = speculativeRef(tag, n);
  const speculated = await repo.readRef(ahead);
  const ref = candidateRef(tag, n);
  if (speculated === commit && (await repo.readRef(ref)) !== commit) {
    await repo.raw(['update-ref', ref, commit, proposed]);
    await publishRef(repo, ref, input.remote);
  }
  if (speculated) await repo.raw(['update-ref', '-d', ahead, speculated]);
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

/** The activity's logger, kept for a warning that comes after the step returned (none outside a worker). */
function activityWarning(): (message: string) => void {
  try {
    const logger = Context.current().log;
    return (message) => logger.warn(message);
  } catch {
    return (message) => process.stderr.write(`${message}\n`);
  }
}
