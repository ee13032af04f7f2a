// The progress chart, drawn from the records of a real run of the bundled example (tinylm, 13 experiments,
// recorded with `autoresearch demo --max-experiments 12 --budget 3`).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Resvg } from '@resvg/resvg-js';
import { readRecords } from '../store/runDirectory';
import { renderChartSvg, writeProgressChart, type ChartOptions } from '../store/chart';
import type { ExperimentRecord } from '../common/types';

const fixtureRun = fileURLToPath(new URL('fixtures/runs/tinylm', import.meta.url));
const options: ChartOptions = { metricName: 'val_bpb', direction: 'minimize', title: 'tinylm' };

/** Each experiment's point in the SVG: its aria-label and where it was drawn. */
function experimentPoints(svg: string): { n: number; status: string; label: string; y: number }[] {
  const paths = svg.match(/<path [^>]*aria-roledescription="point"[^>]*>/g) ?? [];
  return paths.map((p) => {
    const label = unescape(/aria-label="([^"]*)"/.exec(p)?.[1] ?? '');
    const [, n, status] = /^experiment (\d+): (\w+),/.exec(label) ?? [];
    const y = Number(/translate\([^,]+,([^)]+)\)/.exec(p)?.[1]);
    return { n: Number(n), status: status ?? '', label, y };
  });
}

function unescape(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

function textItems(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => unescape(m[1] ?? ''));
}

test('the SVG from a recorded run has one point per experiment, the kept ideas labelled', async () => {
  const records = readRecords(fixtureRun);
  assert.equal(records.length, 13);
  const svg = await renderChartSvg(records, options);

  const points = experimentPoints(svg);
  assert.deepEqual(
    points.map((p) => p.n).sort((a, b) => a - b),
    records.map((r) => r.n),
    'exactly one point per experiment',
  );
  for (const p of points) assert.equal(p.status, records[p.n]?.status);

  const texts = textItems(svg);
  const kept = records.filter((r) => r.status === 'keep');
  assert.equal(kept.length, 4);
  for (const r of kept) assert.ok(texts.includes(r.description), `label for kept experiment ${r.n}`);
  const discarded = records.find((r) => r.status === 'discard');
  assert.ok(discarded && !texts.includes(discarded.description), 'discarded ideas are not labelled');
  assert.ok(
    texts.includes('tinylm: 13 experiments, 4 kept, best val_bpb 2.936432'),
    `title among ${texts.join(' | ')}`,
  );
  assert.equal(await renderChartSvg(records, options), svg, 'a pure function of the records');
});

test('writeProgressChart writes a PNG about 1200 px wide with the kept marks in green', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ar-plot-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { svgPath, pngPath } = await writeProgressChart(dir, readRecords(fixtureRun), options);
  assert.equal(svgPath, path.join(dir, 'progress.svg'));
  assert.equal(pngPath, path.join(dir, 'progress.png'));
  assert.match(readFileSync(svgPath, 'utf8'), /^<svg /);

  const png = readFileSync(pngPath);
  assert.deepEqual(
    [...png.subarray(0, 8)],
    [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
    'PNG signature',
  );
  assert.equal(png.toString('latin1', 12, 16), 'IHDR');
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  assert.ok(width >= 1100 && width <= 1300, `width ${width}`);
  assert.ok(height >= 400 && height < width, `height ${height}`);
  assert.ok(statSync(pngPath).size > 20_000, `size ${statSync(pngPath).size}`);

  // Decode the file itself: resvg draws a PNG embedded in an SVG, and hands back its RGBA pixels.
  const wrapper =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<image href="data:image/png;base64,${png.toString('base64')}" width="${width}" height="${height}"/></svg>`;
  const pixels = new Resvg(wrapper).render().pixels;
  let ink = 0;
  let green = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    const [r, g, b] = [pixels[i] ?? 0, pixels[i + 1] ?? 0, pixels[i + 2] ?? 0];
    if (r < 230 || g < 230 || b < 230) ink++;
    if (g > 120 && r < 110 && b < 110) green++;
  }
  const total = width * height;
  assert.ok(ink > total * 0.02, `non-white pixels: ${ink} of ${total}`);
  assert.ok(ink < total * 0.5, `mostly white background: ${ink} of ${total}`);
  assert.ok(green > 1000, `green pixels (kept marks, best line): ${green}`);
});

test('a crashed experiment is a mark of its own at the worst edge', async () => {
  // SYNTHETIC: the recorded run had no crash, so one is added here, in code, to exercise the crash mark.
  const records = readRecords(fixtureRun);
  const crash: ExperimentRecord = {
    ...records[12]!,
    n: 13,
    description: 'synthetic crash (not from the recorded run)',
    status: 'crash',
    metric: undefined,
    reason: 'no val_bpb line',
  };
  const cancelled: ExperimentRecord = { ...crash, n: 14, status: 'cancelled', reason: 'stopped' };
  const all = [...records, crash, cancelled];
  const svg = await renderChartSvg(all, options);

  const points = experimentPoints(svg);
  assert.equal(points.length, all.length, 'still one point per experiment');
  const crashed = points.filter((p) => p.n >= 13);
  assert.deepEqual(
    crashed.map((p) => p.status),
    ['crash', 'cancelled'],
  );
  for (const p of crashed) {
    assert.match(p.label, /no metric/);
    // Lower is better, so the worst edge is the top: a smaller SVG y than every scored point.
    for (const q of points.filter((q) => q.n < 13)) assert.ok(p.y < q.y, `crash ${p.n} above ${q.n}`);
  }
  assert.ok(textItems(svg).includes('crashed (no metric)'), 'the legend says crashes have no metric');
  assert.ok(!textItems(svg).includes(crash.description), 'crashes are not labelled');
  assert.ok(svg.includes('tinylm: 15 experiments, 4 kept'));
});

test('with no records the chart is still drawn: empty axes and "0 experiments"', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ar-plot-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { svgPath, pngPath } = await writeProgressChart(dir, [], {
    metricName: 'accuracy',
    direction: 'maximize',
  });
  const svg = readFileSync(svgPath, 'utf8');
  assert.equal(experimentPoints(svg).length, 0);
  assert.ok(textItems(svg).includes('autoresearch: 0 experiments, 0 kept'));
  assert.ok(textItems(svg).includes('accuracy (higher is better)'));
  assert.equal(readFileSync(pngPath).toString('latin1', 1, 4), 'PNG');
});
