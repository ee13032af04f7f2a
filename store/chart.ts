// The progress chart (progress.svg / progress.png), like karpathy/autoresearch's progress.png: one mark per
// experiment, the running best as a step line, the kept ideas labelled. A pure function of what
// results.tsv shows of the records, so a redraw writes the same bytes; drawn off the record step's path
// (store/backgroundChart.ts), since it takes seconds at thousands of experiments.
import { Resvg } from '@resvg/resvg-js';
import path from 'node:path';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { MetricDirection } from '../common/types';
import type { ResultFields } from './resultsTsv';
import { writeAtomically } from './runDirectory';

export interface ChartOptions {
  metricName: string;
  direction: MetricDirection;
  title?: string;
}

/** The three kinds a reader tells apart; every status that is neither keep nor discard has no metric. */
const KINDS = ['kept', 'discarded', 'crashed (no metric)'] as const;
type Kind = (typeof KINDS)[number];

const COLORS: Record<Kind, string> = {
  kept: '#2ca02c',
  discarded: '#b0b0b0',
  'crashed (no metric)': '#d62728',
};
// A filled X in Vega's unit square: a plain 'cross' reads as a plus, and a stroke-only path would be
// invisible under `filled: true`.
const X_SHAPE = 'M0,-0.3L0.7,-1L1,-0.7L0.3,0L1,0.7L0.7,1L0,0.3L-0.7,1L-1,0.7L-0.3,0L-1,-0.7L-0.7,-1Z';
const SHAPES: Record<Kind, string> = { kept: 'circle', discarded: 'circle', 'crashed (no metric)': X_SHAPE };

const LABEL_CHARS = 40;
const WIDTH = 960;
const HEIGHT = 420;
const PNG_WIDTH = 1200;

function kindOf(record: ResultFields): Kind {
  if (record.status === 'keep') return 'kept';
  if (record.status === 'discard') return 'discarded';
  return 'crashed (no metric)';
}

function truncate(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= LABEL_CHARS ? line : `${line.slice(0, LABEL_CHARS - 1)}…`;
}

function formatMetric(value: number): string {
  return String(Number(value.toPrecision(7)));
}

export function chartSpec(records: ResultFields[], options: ChartOptions): TopLevelSpec {
  const minimize = options.direction === 'minimize';
  const better = (a: number, b: number) => (minimize ? a < b : a > b);
  const metricOf = (r: ResultFields) =>
    kindOf(r) !== 'crashed (no metric)' && Number.isFinite(r.metric) ? r.metric : undefined;
  // An experiment trained with several seeds (the baseline's noise runs, a confirmation) shows each run
  // as a tick around its point, which sits at their mean.
  const seedTicks = records.flatMap((r) => {
    const metrics = r.runs?.metrics ?? [];
    if (metrics.length < 2) return [];
    return metrics.map((m, k) => ({
      n: r.n,
      metric: m,
      summary: `experiment ${r.n}, run ${k + 1} of ${metrics.length} (${k === 0 ? 'its own seed' : `seed ${k}`}): ${options.metricName} ${m}`,
    }));
  });
  const values = [...records.map(metricOf).filter((v) => v !== undefined), ...seedTicks.map((t) => t.metric)];

  // The y range is the scored values plus a margin, wider on the worst side: crashes sit in that band,
  // where they read as "worse than anything measured" without stretching the scale. (reduce, not
  // Math.min(...values): a run of 10,000 experiments must not hit the argument limit.)
  const lo = values.length > 0 ? values.reduce((a, b) => Math.min(a, b)) : 0;
  const hi = values.length > 0 ? values.reduce((a, b) => Math.max(a, b)) : 1;
  const pad = (hi - lo || Math.abs(hi) || 1) * 0.08;
  const domain = minimize ? [lo - pad, hi + 2 * pad] : [lo - 2 * pad, hi + pad];
  const worst = minimize ? hi + 1.5 * pad : lo - 1.5 * pad;

  const points = records.map((r) => {
    const kind = kindOf(r);
    const metric = metricOf(r);
    const scoredText = metric === undefined ? 'no metric' : `${options.metricName} ${metric}`;
    return {
      n: r.n,
      kind,
      // Vega drops a point without a y, and every experiment must have its mark.
      metric: metric ?? worst,
      // Drawing order: kept points on top of the grey crowd.
      z: kind === 'kept' ? 2 : kind === 'discarded' ? 0 : 1,
      // The point's aria-label in the SVG: what a screen reader (or a test) reads for each experiment.
      summary: `experiment ${r.n}: ${r.status}, ${scoredText}: ${r.description}`,
    };
  });

  // The running best: one step per kept experiment, carried on to the last experiment.
  const steps: { n: number; best: number }[] = [];
  for (const r of records) {
    const metric = metricOf(r);
    if (r.status !== 'keep' || metric === undefined) continue;
    const last = steps.at(-1);
    if (!last || better(metric, last.best)) steps.push({ n: r.n, best: metric });
  }
  const best = steps.at(-1);
  const lastN = records.at(-1)?.n ?? 0;
  if (best && lastN > best.n) steps.push({ n: lastN, best: best.best });

  const labels = records
    .filter((r) => r.status === 'keep' && metricOf(r) !== undefined)
    .map((r) => ({ n: r.n, metric: r.metric, label: truncate(r.description) }));

  const kept = records.filter((r) => r.status === 'keep').length;
  const title =
    `${options.title ?? 'autoresearch'}: ${records.length} experiments, ${kept} kept` +
    (best ? `, best ${options.metricName} ${formatMetric(best.best)}` : '');
  const sense = minimize ? 'lower is better' : 'higher is better';

  const x = {
    field: 'n',
    type: 'quantitative' as const,
    title: 'experiment',
    scale: { domain: [0, Math.max(lastN, 1)], nice: false, padding: 12 },
    axis: { format: 'd', tickMinStep: 1 },
  };
  const y = {
    field: 'metric',
    type: 'quantitative' as const,
    title: `${options.metricName} (${sense})`,
    scale: { domain, zero: false, nice: false },
  };

  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, anchor: 'start', fontSize: 15 },
    width: WIDTH,
    height: HEIGHT,
    background: 'white',
    config: { font: 'DejaVu Sans, sans-serif', view: { stroke: '#dddddd' } },
    layer: [
      {
        // Drawn first so the points sit on top; a line mark is one item, never confused with a point.
        data: { values: steps },
        mark: { type: 'line', interpolate: 'step-after', color: COLORS.kept, strokeWidth: 2, opacity: 0.7 },
        encoding: { x, y: { ...y, field: 'best' } },
      },
      {
        // Each run of an experiment trained with several seeds: ticks, so that points stay one per experiment.
        name: 'seedRuns',
        data: { values: seedTicks },
        mark: {
          type: 'tick',
          orient: 'horizontal',
          size: 12,
          thickness: 1.5,
          color: '#555555',
          opacity: 0.8,
        },
        encoding: { x, y, description: { field: 'summary' } },
      },
      {
        // One symbol per experiment, and the only 'point' items in the SVG (the SVG group's class is
        // experiments_marks): a reader, or a test, counts the experiments there.
        name: 'experiments',
        data: { values: points },
        mark: { type: 'point', filled: true, size: 70, opacity: 0.9 },
        encoding: {
          x,
          y,
          color: {
            field: 'kind',
            type: 'nominal',
            title: null,
            // All three kinds always in the legend, so it reads the same from the first experiment on.
            scale: { domain: [...KINDS], range: KINDS.map((k) => COLORS[k]) },
            legend: {
              orient: 'top',
              direction: 'horizontal',
              labelFontSize: 12,
              labelLimit: 0,
              symbolSize: 90,
            },
          },
          shape: {
            field: 'kind',
            type: 'nominal',
            title: null,
            scale: { domain: [...KINDS], range: KINDS.map((k) => SHAPES[k]) },
          },
          order: { field: 'z', type: 'quantitative' },
          description: { field: 'summary' },
        },
      },
      {
        // Tilted like karpathy's labels: neighbouring kept ideas overlap less than on a horizontal line.
        data: { values: labels },
        mark: {
          type: 'text',
          align: 'left',
          baseline: 'bottom',
          angle: 335,
          dx: 5,
          dy: -5,
          fontSize: 10,
          color: '#1a5e1a',
        },
        encoding: { x, y, text: { field: 'label' } },
      },
    ],
  };
}

export async function renderChartSvg(records: ResultFields[], options: ChartOptions): Promise<string> {
  const { spec } = compile(chartSpec(records, options));
  // renderer 'none': no canvas package is needed; toSVG builds the SVG from the scene graph.
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export function svgToPng(svg: string): Buffer {
  const resvg = new Resvg(svg, {
    // The SVG asks for DejaVu Sans, then sans-serif; without either, resvg falls back to any system font
    // (and with no fonts at all the chart is drawn without its text rather than failing).
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
    background: 'white',
    fitTo: { mode: 'width', value: PNG_WIDTH },
  });
  return resvg.render().asPng();
}

/**
 * Writes `<runDir>/progress.svg` and `<runDir>/progress.png`. With no records it still writes a chart
 * (empty axes, "0 experiments" in the title), so the files always exist once a run has a directory.
 * `makeDir` false: into `runDir` only if it still exists when the chart is written (ENOENT otherwise).
 */
export async function writeProgressChart(
  runDir: string,
  records: ResultFields[],
  options: ChartOptions,
  makeDir = true,
): Promise<{ svgPath: string; pngPath: string }> {
  const svg = await renderChartSvg(records, options);
  const svgPath = path.join(runDir, 'progress.svg');
  const pngPath = path.join(runDir, 'progress.png');
  writeAtomically(svgPath, svg, makeDir);
  writeAtomically(pngPath, svgToPng(svg), makeDir);
  return { svgPath, pngPath };
}
