// `npm start` on a machine with no server running: the demo starts the embedded dev server itself,
// runs a bounded number of experiments, and ends with the results table and the Web UI link.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { freePort } from './support/temporal';

const CLI = fileURLToPath(new URL('../bin/autoresearch.js', import.meta.url));

describe('npm start (the demo)', () => {
  it('starts its own server and runs to completion with a results table and the UI link', async () => {
    const home = mkdtempSync(path.join(tmpdir(), 'ar-demo-home-'));
    const port = freePort();
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [CLI, 'demo', '--max-experiments', '1', '--budget', '3'],
      {
        env: {
          ...process.env,
          AUTORESEARCH_HOME: home,
          TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
          CI: 'true',
          ANTHROPIC_API_KEY: '',
        },
        timeout: 240_000,
      },
    );
    assert.match(stdout, /exp 0 keep +val_bpb \d+\.\d{6}/);
    assert.match(stdout, /exp 1 (keep|discard|crash)/);
    assert.match(stdout, /│ +0 │ [0-9a-f]{7} │ +\d+\.\d{6} │/, 'the results table');
    assert.match(stdout, /ended \(max-experiments\): 2 experiments/);
    // The record step drew the progress chart after every experiment.
    const chart = /progress chart: (\S+progress\.png)/.exec(stdout)?.[1];
    assert.ok(chart, 'the demo names its progress chart');
    assert.ok(statSync(chart).size > 10_000, 'a real PNG, not an empty file');
    assert.equal(
      (readFileSync(chart.replace(/png$/, 'svg'), 'utf8').match(/aria-roledescription="point"/g) ?? [])
        .length,
      2,
      'one point per experiment',
    );
    assert.match(
      stdout,
      new RegExp(`Web UI: http://localhost:${port + 1000}/namespaces/default/workflows/autoresearch-demo-`),
    );
  });
});
