// The record step at a flat cost (issue 16): results.tsv kept through its index, byte for byte
// formatResultsTsv of all records whatever the order and the retries, without reading the earlier records;
// the prompt's results read from the index's end; the progress chart drawn in the background, complete
// once it settles. No timing here: "reads no earlier record" is shown by records made unreadable.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { recordExperiment, type RecordInput } from '../activities/record';
import type { ExperimentRecord } from '../common/types';
import { userPrompt } from '../proposers/claude/prompt';
import { promptContext } from '../proposers/promptContext';
import { chartsDrawn } from '../store/backgroundChart';
import { Repo } from '../store/git';
import { resultsIndexPath } from '../store/resultsIndex';
import { formatResultsTsv } from '../store/resultsTsv';
import { readRecords, resultsPath } from '../store/runDirectory';
import { makeFakeTarget } from './support/fakeTarget';
import { preparedRun, proposalInput } from './support/prepared';

const CHART = { metricName: 'val_loss', direction: 'minimize' as const, title: 'flat' };

/** Experiment n of a synthetic run: discards, crashes with a log tail, some with seeds' runs. */
function record(n: number, extra: Partial<ExperimentRecord> = {}): ExperimentRecord {
  const crashed = n % 7 === 3;
  return {
    n,
    parent: 'a'.repeat(40),
    commit: n.toString(16).padStart(40, 'c'),
    description: n === 0 ? 'baseline' : `exp ${n}: raise\tLR ✓ ${'x'.repeat(n % 5)}`,
    status: crashed ? 'crash' : 'discard',
    ...(crashed
      ? { logTail: `Traceback ${n}`, reason: 'no metric line' }
      : { metric: 2 + ((n * 37) % 11) / 10 }),
    ...(n % 5 === 1 ? { runs: { metrics: [2.1, 2.2, 2.3], by: 'seed' as const } } : {}),
    trainSeconds: 1,
    startedAt: n,
    finishedAt: n + 1,
    ...extra,
  } as ExperimentRecord;
}

function scratchRun(): string {
  return path.join(mkdtempSync(path.join(tmpdir(), 'ar-record-')), 'run');
}

/** Discards and crashes touch no git: the step writes the record and the results, nothing else. */
function recordIn(runDir: string, r: ExperimentRecord, chart = true): Promise<void> {
  const input: RecordInput = { repo: '/nonexistent', runDir, branch: 'b', record: r, previousBest: 'x' };
  return recordExperiment(chart ? { ...input, chart: CHART } : input);
}

const tsvOf = (runDir: string) => readFileSync(resultsPath(runDir), 'utf8');

/** Every record file but the newest `keep` made unreadable: a step that reads them fails. */
function poisonRecords(runDir: string, keep: number[]): void {
  const dir = path.join(runDir, 'experiments');
  for (const f of readdirSync(dir))
    if (!keep.includes(Number(f.replace('.json', '')))) writeFileSync(path.join(dir, f), 'not a record');
}

/** A reproducible shuffle (a small LCG): the test's order is the same on every machine. */
function shuffled(items: number[], seed: number): number[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('the record step keeps results.tsv through its index', () => {
  it('equals formatResultsTsv of all records after records out of order, repeated, and memory reported late', async () => {
    const runDir = scratchRun();
    const order = shuffled(
      Array.from({ length: 60 }, (_, n) => n),
      7,
    );
    const done: ExperimentRecord[] = [];
    for (const [k, n] of order.entries()) {
      // From the 40th step on, records report memory: results.tsv gains its memory column.
      const r = record(n, k >= 40 && n % 2 === 0 ? { memoryGb: 1.5 } : {});
      await recordIn(runDir, r);
      done.push(r);
      if (k % 3 === 0) await recordIn(runDir, r); // Temporal's retry of the same step
      if (k % 4 === 0 && done.length > 2) await recordIn(runDir, done[done.length - 3]!); // an old one again
      assert.equal(
        tsvOf(runDir),
        formatResultsTsv(done, CHART.metricName),
        `after experiment ${n} (step ${k})`,
      );
    }
    assert.match(tsvOf(runDir).split('\n')[0]!, /\tmemory_gb\t/);
    await chartsDrawn();
  });

  it('reads no earlier record: a new record, one out of order and its retry, with every old record unreadable', async () => {
    const runDir = scratchRun();
    const all = Array.from({ length: 300 }, (_, n) => record(n));
    for (const r of all) if (r.n !== 250) await recordIn(runDir, r, false);
    poisonRecords(runDir, []);
    for (const n of [300, 250, 250, 301]) await recordIn(runDir, record(n), false);
    assert.equal(tsvOf(runDir), formatResultsTsv([...all, record(300), record(301)], 'val_bpb'));
  });

  it('repairs itself from the records after a crash between the index and results.tsv, or mid-line', async () => {
    const runDir = scratchRun();
    const all = Array.from({ length: 20 }, (_, n) => record(n));
    for (const r of all.slice(0, 10)) await recordIn(runDir, r, false);
    truncateSync(resultsPath(runDir), 40); // results.tsv cut short (killed mid-write)
    await recordIn(runDir, all[9]!, false); // the retry of the step that was killed
    assert.equal(tsvOf(runDir), formatResultsTsv(all.slice(0, 10)));
    appendFileSync(resultsIndexPath(runDir), '{"i":10,"end":'); // the index cut mid-line
    await recordIn(runDir, all[10]!, false);
    assert.equal(tsvOf(runDir), formatResultsTsv(all.slice(0, 11)));
    for (const r of all.slice(11)) await recordIn(runDir, r, false);
    assert.equal(tsvOf(runDir), formatResultsTsv(all));
  });

  it('draws the chart off the step, and the chart shows every experiment once drawn', async () => {
    const runDir = scratchRun();
    for (let n = 0; n < 40; n++) await recordIn(runDir, record(n));
    poisonRecords(runDir, []); // the chart reads the index, not the records
    await recordIn(runDir, record(40));
    await chartsDrawn();
    const svg = readFileSync(path.join(runDir, 'progress.svg'), 'utf8');
    assert.match(svg, /flat: 41 experiments, 0 kept/);
    assert.equal((svg.match(/experiment \d+: (discard|crash)/g) ?? []).length, 41);
  });
});

describe("the prompt's inputs", () => {
  it('lists the last results and the last crash from the index, the same as from every record', async () => {
    const repo = await makeFakeTarget();
    const run = await preparedRun(repo, 'prompt');
    const last = 200; // made a crash with a log tail: the prompt shows it
    for (let n = 0; n <= last; n++)
      await recordIn(
        run.runDir,
        n === last ? record(n, { status: 'crash', logTail: 'boom', metric: undefined }) : record(n),
        false,
      );
    const input = proposalInput(repo, 'prompt', run, { n: last + 1 });
    const records = readRecords(run.runDir);
    const ctx = await promptContext(await Repo.open(repo), input);
    // Today's prompt, built from every record.
    const everyRecord = userPrompt({ ...ctx, results: records, earlierResults: undefined });
    assert.equal(userPrompt(ctx), everyRecord);
    assert.match(everyRecord, /\(51 earlier experiments not listed\)/);
    assert.deepEqual(ctx.lastCrash, {
      n: last,
      description: records.at(-1)!.description,
      reason: undefined,
      logTail: 'boom',
    });
    poisonRecords(run.runDir, [last]);
    assert.equal(userPrompt(await promptContext(await Repo.open(repo), input)), everyRecord);
  });
});
