// The progress chart's own thread (started by store/backgroundChart.ts): drawing thousands of points
// takes seconds of CPU, which must not stall the worker's event loop, where the heartbeats of trainings
// in the same process are sent. It draws what the results index holds (one file, not every record).
import { existsSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { writeProgressChart } from './chart';
import { readResultEntries } from './resultsIndex';
import { readRecords } from './runDirectory';
import type { ChartJob, ChartReply } from './backgroundChart';

parentPort!.on('message', (job: ChartJob) => {
  void draw(job).then((reply) => parentPort!.postMessage(reply));
});

async function draw({ id, runDir, options }: ChartJob): Promise<ChartReply> {
  const started = performance.now();
  try {
    // A run directory removed meanwhile (its records no longer wanted: `rm -rf` of a finished run, a
    // test's scratch), before the draw or while it renders, is not made again.
    if (existsSync(runDir))
      await writeProgressChart(runDir, readResultEntries(runDir) ?? readRecords(runDir), options, false);
    return { id, ms: performance.now() - started };
  } catch (err) {
    if (!existsSync(runDir)) return { id, ms: performance.now() - started };
    return { id, ms: performance.now() - started, error: (err as Error).message };
  }
}
