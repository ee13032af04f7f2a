// Part "tinylm": the bundled example's baseline at its default budget: wall time, val_bpb, peak memory.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { materializeExample } from '../../target/examples';
import { ensureUv } from '../../target/pythonTools';
import { startWorkers, uniqueQueues } from '../../test/support/temporal';
import type { Bench } from './context';
import { line, section } from './report';
import { benchTag, runToEnd } from './runs';

export async function benchTinylm(bench: Bench): Promise<void> {
  section('tinylm baseline at its default budget (the first run includes uv sync and data preparation):');
  const repo = await materializeExample(
    'tinylm',
    path.join(mkdtempSync(path.join(tmpdir(), 'ar-bench-')), 'tinylm'),
  );
  const queues = uniqueQueues('bench-tinylm');
  const workers = await startWorkers(bench.address, { ...queues, extraPath: await ensureUv() });
  try {
    const run = await runToEnd(bench.client, { repo, tag: benchTag('tinylm'), maxExperiments: 0, ...queues });
    const [b] = run.records;
    line(
      `val_bpb ${b!.metric?.toFixed(6)}  training process ${b!.trainSeconds}s  ` +
        `peak memory ${b!.memoryGb?.toFixed(2)} GB  run wall ${run.wallSeconds.toFixed(1)}s`,
    );
  } finally {
    await workers.stop();
  }
}
