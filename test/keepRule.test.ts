// The keep rules as plain functions: strict keeps any better metric; noise-aware asks for a gain the
// measured noise cannot explain, and confirms doubtful gains with more seeds first.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BestResult, Evaluation, KeepRule } from '../lib/types';
import {
  addMeasurement,
  decideStatus,
  needsConfirmation,
  noiseFromRecords,
  verdict,
} from '../workflows/keepRule';
import { normalCdf, studentCdf, tMargin } from '../workflows/studentT';

const noiseAware: KeepRule = { rule: 'noise-aware', margin: 2, confirmRuns: 2, staleAfterKeeps: 3 };
const strict: KeepRule = { ...noiseAware, rule: 'strict' };
/** The baseline trained 3 times: 0.99, 1.00, 1.01 (std 0.01). */
const measured = addMeasurement(null, 0, [0.99, 1, 1.01]);
/** A noise of 0.01 known from a thousand runs: k standard errors are k standard errors. */
const known = { std: 0.01, groups: [{ n: 0, metrics: new Array<number>(1001).fill(1) }], keepsSince: 0 };
const best: BestResult = { n: 0, commit: 'c0', metric: 1, runs: 3 };
const once = (metric: number): Evaluation => ({ status: 'ok', metric });
const thrice = (metrics: number[]): Evaluation => ({
  status: 'ok',
  metric: metrics.reduce((a, b) => a + b) / metrics.length,
  runs: { metrics, std: 0 },
});

describe('keep rules', () => {
  it('pools the noise over the latest experiments trained with several seeds', () => {
    assert.ok(Math.abs(measured.std - 0.01) < 1e-12);
    // A second group with the same spread leaves the pooled std alone; a wider one raises it.
    assert.ok(Math.abs(addMeasurement(measured, 4, [0.5, 0.51, 0.49]).std - 0.01) < 1e-12);
    const wider = addMeasurement(measured, 4, [0.47, 0.5, 0.53]);
    assert.ok(Math.abs(wider.std - Math.sqrt((0.0002 + 0.0018) / 4)) < 1e-12);
    let many = measured;
    for (let n = 1; n <= 5; n++) many = addMeasurement(many, n, [1, 1.02]);
    assert.deepEqual(
      many.groups.map((g) => g.n),
      [2, 3, 4, 5],
      'the latest 4: the noise may drift as the model changes',
    );
  });

  it('strict keeps any better metric, noise-aware only a gain beyond the margin', () => {
    // One run, 0.015 better: 1.3 standard errors of the difference (0.01 × √(1 + 1/3)).
    assert.equal(decideStatus(once(0.985), best, 'minimize', strict, known), 'keep');
    assert.equal(decideStatus(once(0.985), best, 'minimize', noiseAware, known), 'discard');
    // 0.03 better is 2.6 standard errors: kept (when no confirmation runs are asked for).
    assert.equal(decideStatus(once(0.97), best, 'minimize', noiseAware, known), 'keep');
    // The same 0.015 as the mean of 3 runs is 1.84 standard errors (0.01 × √(2/3)): still short...
    assert.equal(decideStatus(thrice([0.975, 0.985, 0.995]), best, 'minimize', noiseAware, known), 'discard');
    // ...and 0.02 is 2.45: kept.
    assert.equal(decideStatus(thrice([0.97, 0.98, 0.99]), best, 'minimize', noiseAware, known), 'keep');
    // Worse or equal never keeps, and maximize turns the sign.
    assert.equal(decideStatus(once(1), best, 'minimize', strict, known), 'discard');
    assert.equal(decideStatus(once(1.03), best, 'maximize', noiseAware, known), 'keep');
    assert.equal(decideStatus(once(0.97), best, 'maximize', noiseAware, known), 'discard');
  });

  it('widens the margin while the noise is measured from few runs (Student t)', () => {
    // Against scipy.stats.t.ppf(norm.cdf(k), df).
    for (const [k, df, t] of [
      [2, 1, 13.96773],
      [2, 2, 4.526537],
      [2, 8, 2.366416],
      [2, 30, 2.086844],
      [3, 3, 9.21894],
    ] as const)
      assert.ok(Math.abs(tMargin(k, df) - t) < 1e-4 * t, `k ${k} df ${df}: ${tMargin(k, df)} vs ${t}`);
    assert.ok(Math.abs(studentCdf(2.776445, 4) - 0.975) < 1e-6);
    assert.ok(Math.abs(normalCdf(1.959964) - 0.975) < 1e-6);
    // With the baseline's 3 runs alone (2 degrees of freedom) a gain of 2.6 standard errors is not enough...
    assert.equal(decideStatus(once(0.97), best, 'minimize', noiseAware, measured), 'discard');
    assert.equal(needsConfirmation(once(0.97), best, 'minimize', noiseAware, measured), true);
    // ...5.2 is.
    assert.equal(decideStatus(once(0.94), best, 'minimize', noiseAware, measured), 'keep');
  });

  it('discards a change that fails with another seed, however good its other runs', () => {
    const unstable: Evaluation = { ...thrice([0.9, 0.9]), failedRuns: ['seed 2: invalid (val_bpb is NaN)'] };
    assert.equal(decideStatus(unstable, best, 'minimize', noiseAware, known), 'discard');
    assert.equal(
      verdict('discard', unstable, best, 'minimize', noiseAware, known),
      'a confirmation run failed: seed 2: invalid (val_bpb is NaN)',
    );
  });

  it('is the strict rule while no noise is measured', () => {
    assert.equal(decideStatus(once(0.999), best, 'minimize', noiseAware, null), 'keep');
    assert.equal(needsConfirmation(once(0.999), best, 'minimize', noiseAware, null), false);
  });

  it('confirms a gain the noise could explain, and any keep once the estimate is stale', () => {
    assert.equal(needsConfirmation(once(0.985), best, 'minimize', noiseAware, known), true);
    // 2.6 standard errors clears the margin, but not 4 times over: one lucky run is the commonest false keep.
    assert.equal(needsConfirmation(once(0.97), best, 'minimize', noiseAware, known), true);
    assert.equal(needsConfirmation(once(0.9), best, 'minimize', noiseAware, known), false);
    assert.equal(needsConfirmation(once(1.01), best, 'minimize', noiseAware, known), false, 'worse');
    assert.equal(
      needsConfirmation(thrice([0.97, 0.98, 0.99]), best, 'minimize', noiseAware, known),
      false,
      'confirmed already',
    );
    assert.equal(needsConfirmation(once(0.985), best, 'minimize', strict, known), false);
    const stale = { ...known, keepsSince: 3 };
    assert.equal(needsConfirmation(once(0.9), best, 'minimize', noiseAware, stale), true);
  });

  it('rebuilds a finished run’s estimate from its records', () => {
    const record = (n: number, status: 'keep' | 'discard', metrics?: number[]) => ({
      n,
      status,
      ...(metrics ? { runs: { metrics, std: 0 } } : {}),
    });
    const noise = noiseFromRecords([
      record(0, 'keep', [0.99, 1, 1.01]),
      record(1, 'keep'),
      record(2, 'discard', [0.97, 0.98, 0.99]),
      record(3, 'keep'),
    ] as never);
    assert.deepEqual(
      noise?.groups.map((g) => g.n),
      [0, 2],
    );
    assert.equal(noise?.keepsSince, 1);
  });
});
