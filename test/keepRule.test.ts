// The keep rules as plain functions: strict keeps any better metric; noise-aware asks for a gain the
// measured noise cannot explain, and confirms doubtful gains with more seeds first.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BestResult, Evaluation, KeepRule } from '../common/types';
import {
  addMeasurement,
  decideStatus,
  keepRuleInForce,
  needsConfirmation,
  verdict,
} from '../workflows/keepRule';
import { RunState } from '../workflows/runState';
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
    // The path `autoresearch status` takes for a run that has ended: its records folded by RunState.
    const { noise } = RunState.endedRunStatus(
      { tag: 'ended', repo: '/targets/ended' } as never,
      [
        record(0, 'keep', [0.99, 1, 1.01]),
        record(1, 'keep'),
        record(2, 'discard', [0.97, 0.98, 0.99]),
        record(3, 'keep'),
      ] as never,
      { config: null, runDir: null, branch: null, phase: 'finished', summary: null },
    );
    assert.deepEqual(
      noise?.groups.map((g) => g.n),
      [0, 2],
    );
    assert.equal(noise?.keepsSince, 1);
  });

  it('says which rule is in force, from the rule chosen and the noise measured', () => {
    const inForce = (noise: typeof measured | null, noiseBy: 'seed' | 'repeat' | null = 'seed') =>
      keepRuleInForce(noiseAware, noise, noiseBy);
    assert.match(
      inForce(measured),
      /^noise-aware in force \(a gain must exceed 2 standard errors; a smaller one trains 2 more seeds/,
    );
    assert.match(inForce(measured, 'repeat'), /trains 2 more repeats and its mean decides/);
    assert.match(inForce(null), /^strict until the noise is measured, then noise-aware/);
    assert.match(
      inForce(null, null),
      /^strict in effect \(any better metric keeps\): no noise can be measured/,
    );
    assert.equal(
      inForce(addMeasurement(null, 0, [0.5, 0.5, 0.5]), 'repeat'),
      'strict in effect (any better metric keeps): the noise measured 0 (3 identical runs), a deterministic target',
    );
    // 0.18 three times: a mean with a rounding error, whose spread is still no noise.
    const identical = addMeasurement(null, 0, [0.18, 0.18, 0.18]);
    assert.ok(identical.std > 0 && identical.std < 1e-12);
    const current = { ...noiseAware, identicalRunsExact: true };
    assert.match(keepRuleInForce(current, identical, 'repeat'), /^strict in effect .*3 identical runs/);
    assert.equal(
      decideStatus(once(0.1799), { ...best, metric: 0.18 }, 'minimize', current, identical),
      'keep',
    );
    assert.equal(
      needsConfirmation(once(0.1799), { ...best, metric: 0.18 }, 'minimize', current, identical),
      false,
    );
    // A run started before identicalRunsExact decided with that rounding error as its noise, and still does.
    assert.match(keepRuleInForce(noiseAware, identical, 'seed'), /^noise-aware in force/);
    assert.equal(keepRuleInForce(strict, measured, 'seed'), 'strict (any better metric keeps)');
    assert.equal(keepRuleInForce(null, null, null), 'strict (any better metric keeps)');
  });
});
