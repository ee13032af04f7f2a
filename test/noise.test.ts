// The metric's run-to-run noise: the baseline trained with several seeds (issue 7, first part).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { startRun } from '../client';
import type { RunSummary } from '../lib/types';
import { statusQuery } from '../workflows/messages';
import { noiseEstimate } from '../workflows/runState';
import { autoresearch } from './support/commandLines';
import { makeFakeTarget, makeTarget } from './support/fakeTarget';
import { useHarness } from './support/temporal';

/** A target whose metric is 1 + SEED / 100: each seed a different, known score. */
function seededTarget(): Promise<string> {
  return makeTarget({
    'train.py':
      'import os\nLEARNING_RATE = 0.01\nseed = int(os.environ.get("SEED", "0"))\n' +
      'print("---")\nprint(f"val_bpb: {1 + seed / 100 + abs(LEARNING_RATE - 0.01):.6f}")\n',
    'prepare.py': '# frozen\n',
    'program.md': '# program\n',
    'autoresearch.toml':
      '[train]\ncommand = "python3 train.py"\nsetup = []\ntimeout_seconds = 30\nseed_env = "SEED"\n',
  });
}

describe('noise runs', () => {
  const h = useHarness('noise');

  it('computes the mean and the sample standard deviation', () => {
    const { mean, noise } = noiseEstimate([1, 2, 3]);
    assert.equal(mean, 2);
    assert.deepEqual(noise, { metrics: [1, 2, 3], std: 1 });
    assert.equal(noiseEstimate([0.5]).noise.std, 0);
  });

  it('trains the baseline with several seeds: its metric is their mean, and status shows the noise', async () => {
    const repo = await seededTarget();
    const handle = await startRun(h.client, {
      repo,
      tag: 'noisy',
      maxExperiments: 1,
      noiseRuns: 3,
      ...h.queues,
    });
    const summary = (await handle.result()) as RunSummary;
    assert.ok(
      Math.abs(summary.baselineMetric! - 1.01) < 1e-9,
      `mean of 1.00, 1.01, 1.02: ${summary.baselineMetric}`,
    );
    const status = await handle.query(statusQuery);
    assert.deepEqual(
      status.noise?.metrics,
      [1, 1.01, 1.02],
      'the target’s own seed first, then seeds 1 and 2',
    );
    assert.ok(Math.abs(status.noise!.std - 0.01) < 1e-9);
    const logs = path.join(repo, '.git/autoresearch/runs/noisy/logs');
    for (const name of ['exp-0000.log', 'exp-0000.seed1.log', 'exp-0000.seed2.log'])
      assert.ok(existsSync(path.join(logs, name)), `${name}: each seed trained and logged apart`);
    assert.match(
      await autoresearch(h.address, ['status', '--tag', 'noisy']),
      /noise: ±0\.010000 .*over 3 seeds/,
    );
  });

  it('trains once when the target does not say how to set its seed', async () => {
    const repo = await makeFakeTarget();
    const handle = await startRun(h.client, {
      repo,
      tag: 'seedless',
      maxExperiments: 0,
      noiseRuns: 3,
      ...h.queues,
    });
    await handle.result();
    assert.equal((await handle.query(statusQuery)).noise, null);
    assert.equal(
      existsSync(path.join(repo, '.git/autoresearch/runs/seedless/logs/exp-0000.seed1.log')),
      false,
    );
  });
});
