// `npm run bench`: the figures the project promises, measured on this machine.
//  1. orchestration overhead per experiment (wall time minus training time) on a fake target whose
//     "training" is a 0.2 s sleep, over 10 experiments;
//  2. the bundled tinylm baseline at its default budget: wall time, val_bpb, peak memory;
//  3. drawing the progress chart (SVG and PNG) for runs of 100 and 1,000 experiments.
// Options: --experiments N (default 10), --skip-tinylm. Uses TEMPORAL_ADDRESS or starts its own server.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startRun } from '../client';
import { materializeExample } from '../lib/node/exampleTarget';
import { ensureUv } from '../lib/node/pythonTools';
import type { ExperimentRecord, RunSummary } from '../lib/types';
import { readRecords } from '../activities/record';
import { renderChartSvg, svgToPng } from '../lib/node/progressChart';
import { makeFakeTarget } from '../test/support/fakeTarget';
import { startWorkers, stopOwnServer, testClient, testServer, uniqueQueues } from '../test/support/temporal';

const { values } = parseArgs({
  options: {
    experiments: { type: 'string', default: '10' },
    'skip-tinylm': { type: 'boolean', default: false },
  },
});
const experiments = Number(values.experiments);

function stats(xs: number[]): string {
  const sorted = [...xs].sort((a, b) => a - b);
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
  return `mean ${mean.toFixed(2)}s  median ${pct(0.5).toFixed(2)}s  p90 ${pct(0.9).toFixed(2)}s  max ${sorted[sorted.length - 1]!.toFixed(2)}s`;
}

const overhead = (r: ExperimentRecord) => (r.finishedAt - r.startedAt) / 1000 - r.trainSeconds;

const address = await testServer();
const client = await testClient(address);
const queues = uniqueQueues('bench');
const workers = await startWorkers(address, { ...queues, extraPath: await ensureUv() });
try {
  const fake = await makeFakeTarget({ sleepSeconds: 0.2 });
  const started = Date.now();
  const run = await startRun(client, { repo: fake, tag: 'bench', maxExperiments: experiments, ...queues });
  const summary = (await run.result()) as RunSummary;
  const records = readRecords(path.join(fake, '.git', 'autoresearch', 'runs', 'bench'));
  console.log(`orchestration, ${summary.experimentsDone} experiments on a 0.2 s fake training:`);
  console.log(`  overhead per experiment (wall - training): ${stats(records.map(overhead))}`);
  console.log(
    `  training process per experiment (python start + 0.2 s): ${stats(records.map((r) => r.trainSeconds))}`,
  );
  console.log(`  whole run: ${((Date.now() - started) / 1000).toFixed(1)}s`);

  console.log('progress chart (redrawn by the record step after every experiment):');
  for (const size of [100, 1000]) {
    const synthetic = Array.from({ length: size }, (_, n) => ({
      ...records[n % records.length]!,
      n,
      metric: 1 / (1 + n / 50) + ((n * 7919) % 13) / 100,
      status: (n % 10 === 0 ? 'keep' : n % 10 === 5 ? 'crash' : 'discard') as ExperimentRecord['status'],
    }));
    const t0 = performance.now();
    const svg = await renderChartSvg(synthetic, { metricName: 'val_bpb', direction: 'minimize' });
    const t1 = performance.now();
    const png = svgToPng(svg);
    const t2 = performance.now();
    console.log(
      `  ${size} experiments: SVG ${(t1 - t0).toFixed(0)} ms (${(svg.length / 1024).toFixed(0)} KB), PNG ${(t2 - t1).toFixed(0)} ms (${(png.length / 1024).toFixed(0)} KB)`,
    );
  }

  if (!values['skip-tinylm']) {
    const repo = await materializeExample(
      'tinylm',
      path.join(mkdtempSync(path.join(tmpdir(), 'ar-bench-')), 'tinylm'),
    );
    const t0 = Date.now();
    const baseline = await startRun(client, { repo, tag: 'bench-tinylm', maxExperiments: 0, ...queues });
    await baseline.result();
    const [b] = readRecords(path.join(repo, '.git', 'autoresearch', 'runs', 'bench-tinylm'));
    console.log('tinylm baseline at its default budget (first run includes uv sync and data preparation):');
    console.log(
      `  val_bpb ${b!.metric?.toFixed(6)}  training process ${b!.trainSeconds}s  peak memory ${b!.memoryGb?.toFixed(2)} GB  run wall ${((Date.now() - t0) / 1000).toFixed(1)}s`,
    );
  }
} finally {
  await workers.stop();
  await client.connection.close();
  await stopOwnServer();
}
