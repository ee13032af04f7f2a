// The whole loop for real: the bundled tinylm target (numpy training through uv), the mutate proposer,
// a worker and the dev server. Baseline plus three experiments, then the invariants of
// docs/ARCHITECTURE.md checked on the result.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { startRun } from '../client';
import { materializeExample } from '../target/examples';
import { ensureUv } from '../target/pythonTools';
import type { RunSummary } from '../common/types';
import { assertRunInvariants, checkoutState } from './support/invariants';
import { useHarness } from './support/temporal';

/** Seconds of training per experiment: enough to learn something, short enough for CI. */
const BUDGET = 4;

describe('end to end on the bundled example', () => {
  const h = useHarness('e2e', async () => ({ extraPath: await ensureUv() }));

  it('runs the baseline and 3 experiments with the mutate proposer', async (t) => {
    const repo = await materializeExample(
      'tinylm',
      path.join(mkdtempSync(path.join(tmpdir(), 'ar-e2e-')), 'tinylm'),
    );
    const checkout = await checkoutState(repo);
    const handle = await startRun(h.client, {
      repo,
      tag: 'e2e',
      maxExperiments: 3,
      budgetSeconds: BUDGET,
      ...h.queues,
    });
    const summary = (await handle.result()) as RunSummary;
    assert.equal(summary.experimentsDone, 4);
    const records = await assertRunInvariants(repo, 'e2e', summary, checkout);

    const baseline = records[0]!;
    assert.equal(baseline.status, 'keep');
    assert.ok(
      baseline.metric! < 5,
      `the baseline learns: val_bpb ${baseline.metric} is far below the 8 bits of a uniform guess`,
    );
    // The score comes from the frozen evaluate.py, not from train.py's own output.
    const logs = path.join(repo, '.git', 'autoresearch', 'runs', 'e2e', 'logs');
    assert.doesNotMatch(readFileSync(path.join(logs, 'exp-0000.log'), 'utf8'), /val_bpb/);
    // The baseline trained with 3 seeds (tinylm reads AUTORESEARCH_SEED): each run evaluated apart, the
    // record holding their mean.
    const seeds = baseline.runs!.metrics;
    assert.equal(seeds.length, 3);
    assert.ok(Math.abs(baseline.metric! - (seeds[0]! + seeds[1]! + seeds[2]!) / 3) < 1e-9);
    assert.ok(new Set(seeds).size > 1, `another seed, another score: ${seeds.join(', ')}`);
    ['exp-0000.eval.log', 'exp-0000.seed1.eval.log', 'exp-0000.seed2.eval.log'].forEach((log, k) =>
      assert.match(
        readFileSync(path.join(logs, log), 'utf8'),
        new RegExp(`^val_bpb: +${seeds[k]!.toFixed(6)}$`, 'm'),
      ),
    );
    for (const r of records.slice(1)) {
      assert.match(r.description, /^(raise|lower) [A-Z_]+ /);
      assert.ok(['keep', 'discard', 'crash'].includes(r.status), `${r.n}: ${r.status} ${r.reason ?? ''}`);
      assert.ok(
        existsSync(path.join(repo, '.git', 'autoresearch', 'runs', 'e2e', 'logs', `exp-000${r.n}.log`)),
      );
    }
    for (const r of records) {
      const wall = (r.finishedAt - r.startedAt) / 1000;
      t.diagnostic(
        `exp ${r.n} ${r.status} ${r.metric?.toFixed(4) ?? '-'} wall ${wall.toFixed(1)}s train ${r.trainSeconds}s overhead ${(wall - r.trainSeconds).toFixed(1)}s ${r.description}`,
      );
    }
  });
});
