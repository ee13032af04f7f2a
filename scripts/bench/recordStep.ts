// Part "record": the record step (write the record, add it to results.tsv through its index, ask for the
// chart) on synthetic run directories of 100, 1,000 and 10,000 records, half of the new records arriving
// out of order as with --parallel. Prints the step's time, the longest block of the event loop while the
// steps run and the chart is drawn in its thread, how long the chart takes to catch up, and disk per
// experiment. Issue 16's figures: 10,000 within 1.5x of 100, the event loop never blocked over 100 ms.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { recordExperiment } from '../../activities/record';
import type { ExperimentRecord } from '../../common/types';
import { chartsDrawn } from '../../store/backgroundChart';
import { rebuildResults } from '../../store/resultsIndex';
import { experimentRecordPath, writeAtomically } from '../../store/runDirectory';
import { syntheticRun } from './chart';
import { figure, line, section } from './report';

const SIZES = [100, 1000, 10_000];
const STEPS = 200;
const CHART = { metricName: 'val_bpb', direction: 'minimize' as const, title: 'bench' };

/** A keep moves the branch in git, at a cost that does not depend on the run's size: measured elsewhere. */
const withoutGit = (r: ExperimentRecord): ExperimentRecord =>
  r.status === 'keep' ? { ...r, status: 'discard' } : r;

/** Disk used by a folder, in bytes (du: what the files take on disk, blocks included). */
function diskBytes(dir: string): number {
  return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
}

/** New numbers in pairs swapped (size+1, size, size+3, size+2 ...): every other record out of order. */
const arrivalOrder = (size: number) =>
  Array.from({ length: STEPS }, (_, k) => size + (k % 2 === 0 ? k + 1 : k - 1));

export async function benchRecordStep(): Promise<void> {
  section(
    `record step (${STEPS} records added to a run of N, every other one out of order; chart in its thread):`,
  );
  // Medians are compared: a step is under a millisecond, and one preempted by the chart's thread (2 cores
  // on the bench machine) would weigh on a mean more than on the step's own cost.
  const medians: number[] = [];
  let worstBlock = 0;
  for (const size of SIZES) {
    const runDir = path.join(mkdtempSync(path.join(tmpdir(), 'ar-bench-record-')), 'run');
    mkdirSync(runDir, { recursive: true });
    // A real repository for the step's repo: every 100th record starts a git housekeeping round in it, as
    // in a run (on a folder that is not one, that round would fail and warn inside the timed loop).
    const repo = path.dirname(runDir);
    execFileSync('git', ['init', '--quiet', repo]);
    execFileSync('git', [
      '-C',
      repo,
      '-c',
      'user.name=bench',
      '-c',
      'user.email=bench@localhost',
      'commit',
      '--quiet',
      '--allow-empty',
      '-m',
      'bench',
    ]);
    const records = syntheticRun(size + STEPS);
    // Set-up, not timed: the run so far, as the record step would have left it.
    for (const r of records.slice(0, size))
      writeAtomically(experimentRecordPath(runDir, r.n), JSON.stringify(r, null, 2) + '\n');
    rebuildResults(runDir, CHART.metricName);
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    const times: number[] = [];
    for (const n of arrivalOrder(size)) {
      const started = performance.now();
      await recordExperiment({
        repo,
        runDir,
        branch: 'b',
        record: withoutGit(records[n]!),
        previousBest: 'x',
        chart: CHART,
      });
      times.push(performance.now() - started);
    }
    const chartStarted = performance.now();
    await chartsDrawn();
    const chartLag = performance.now() - chartStarted;
    loop.disable();
    const mean = times.reduce((a, b) => a + b, 0) / times.length;
    const median = [...times].sort((a, b) => a - b)[times.length >> 1]!;
    const block = loop.max / 1e6;
    medians.push(median);
    worstBlock = Math.max(worstBlock, block);
    line(
      `${size} records: record step median ${median.toFixed(2)} ms, mean ${mean.toFixed(2)} ms, max ${Math.max(...times).toFixed(2)} ms; ` +
        `event loop longest block ${block.toFixed(0)} ms; chart settled ${(chartLag / 1000).toFixed(1)} s after the last step; ` +
        `disk ${(diskBytes(runDir) / (size + STEPS) / 1024).toFixed(2)} KB per experiment`,
    );
    rmSync(path.dirname(runDir), { recursive: true, force: true });
  }
  const ratio = medians.at(-1)! / medians[0]!;
  figure('record step (median) at 10,000 vs 100', `${ratio.toFixed(2)}x`, '<= 1.5x', ratio <= 1.5);
  figure('event loop longest block', `${worstBlock.toFixed(0)} ms`, '<= 100 ms', worstBlock <= 100);
}
