// Part "chart": drawing the progress chart (SVG and PNG), which the record step redraws after every
// experiment, for runs of 100 and 1,000 experiments.
import type { ExperimentRecord } from '../../common/types';
import { renderChartSvg, svgToPng } from '../../store/chart';
import { line, section } from './report';

/** A run of `size` experiments with a falling best, some keeps, discards and crashes. */
export function syntheticRun(size: number): ExperimentRecord[] {
  return Array.from({ length: size }, (_, n) => ({
    n,
    parent: 'a'.repeat(40),
    commit: 'b'.repeat(40),
    description: n === 0 ? 'baseline' : `experiment ${n}: raise LEARNING_RATE`,
    metric: 1 / (1 + n / 50) + ((n * 7919) % 13) / 100,
    status: n % 10 === 0 ? 'keep' : n % 10 === 5 ? 'crash' : 'discard',
    trainSeconds: 300,
    startedAt: n * 310_000,
    finishedAt: n * 310_000 + 305_000,
  }));
}

export async function benchChart(): Promise<void> {
  section('progress chart (redrawn by the record step after every experiment):');
  for (const size of [100, 1000]) {
    const records = syntheticRun(size);
    const t0 = performance.now();
    const svg = await renderChartSvg(records, { metricName: 'val_bpb', direction: 'minimize' });
    const t1 = performance.now();
    const png = svgToPng(svg);
    const t2 = performance.now();
    line(
      `${size} experiments: SVG ${(t1 - t0).toFixed(0)} ms (${(svg.length / 1024).toFixed(0)} KB), ` +
        `PNG ${(t2 - t1).toFixed(0)} ms (${(png.length / 1024).toFixed(0)} KB)`,
    );
  }
}
