// The first `npm start` on a fresh machine: nothing installed in AUTORESEARCH_HOME (the Temporal CLI is
// built from scratch, the dev server opens a new SQLite file), on a machine kept busy by CPU hogs. The
// demo completes, says it is alive during the long build, and leaves no dev server behind.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  cpuHogs,
  freshEnv,
  portIsFree,
  processesNaming,
  runCli,
  stopAll,
  type Finished,
} from './support/freshMachine';
import { freePort } from './support/temporal';

describe('the first run on a fresh machine', () => {
  it(
    'demo builds the Temporal CLI into an empty home, starts a fresh server under load, completes and stops it',
    { timeout: 1_800_000 },
    async () => {
      const home = mkdtempSync(path.join(tmpdir(), 'ar-first-home-'));
      const port = freePort();
      const hogs = cpuHogs(2);
      let result: Finished;
      try {
        result = await runCli(['demo', '--max-experiments', '1', '--budget', '3'], freshEnv(home, port));
      } finally {
        await stopAll(hogs);
      }
      const { code, stdout, stderr } = result;
      assert.equal(code, 0, `the demo failed:\n${stderr.slice(-3000)}\n${stdout.slice(-2000)}`);
      assert.match(stderr, /Building the Temporal CLI with Go/);
      assert.match(
        stderr,
        /still building the Temporal CLI \(\d+m\d{2}s\)/,
        'the long build says it is alive, with the elapsed time',
      );
      assert.match(stdout, /ended \(max-experiments\): 2 experiments/);
      assert.deepEqual(processesNaming(home), [], 'no dev server (or anything else) of the demo is left');
      assert.ok(await portIsFree(port), `port ${port} is free again`);
    },
  );
});
