// The loop on a real Temporal server with a fast fake target: decisions, crashes, steering, bad input.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { readRecords } from '../activities/record';
import { startRun } from '../client';
import type { RunStatus, RunSummary } from '../lib/types';
import { statusQuery } from '../workflows/messages';
import { autoresearch } from './support/commandLines';
import { git, makeFakeTarget } from './support/fakeTarget';
import { assertRunInvariants, checkoutState } from './support/invariants';
import { waitFor } from './support/waitFor';
import { startWorkers, testClient, testServer, uniqueQueues, type RunningWorkers } from './support/temporal';

let client: Client;
let address: string;

before(async () => {
  address = await testServer();
  client = await testClient(address);
});
after(async () => {
  await client.connection.close();
});

/** The project's own command line, as a person would type it. */
const cli = (args: string[]) => autoresearch(address, args);

describe('research loop on a fake target', () => {
  let workers: RunningWorkers;
  let queues: ReturnType<typeof uniqueQueues>;
  before(async () => {
    queues = uniqueQueues('loop');
    workers = await startWorkers(address, queues);
  });
  after(async () => workers.stop());

  it('records an edit that crashes training as crash, and the branch does not move', async () => {
    // Any change of WIDTH crashes; changes of LEARNING_RATE train.
    const repo = await makeFakeTarget({ crashWhen: 'WIDTH != 16' });
    const checkout = await checkoutState(repo);
    const handle = await startRun(client, { repo, tag: 'crashy', maxExperiments: 6, seed: 3, ...queues });
    const summary = (await handle.result()) as RunSummary;
    const records = await assertRunInvariants(repo, 'crashy', summary, checkout);

    const crashed = records.filter((r) => r.status === 'crash');
    assert.ok(
      crashed.length > 0,
      `seed 3 proposes a WIDTH change within 6 experiments: ${records.map((r) => r.description)}`,
    );
    for (const r of records)
      assert.equal(r.status === 'crash', r.description.includes('WIDTH'), r.description);
    for (const r of crashed) {
      assert.match(r.reason ?? '', /exit 1.*RuntimeError|RuntimeError/);
      assert.notEqual(summary.best?.commit, r.commit);
    }
    const tsv = await git(repo, ['show', `${records[0]!.commit}:train.py`]);
    assert.match(tsv, /WIDTH = 16/);
  });

  it('pause holds new experiments, resume continues, stop ends with a summary', async () => {
    const repo = await makeFakeTarget({ sleepSeconds: 1 });
    const checkout = await checkoutState(repo);
    const handle = await startRun(client, { repo, tag: 'steer', ...queues });
    await waitFor('experiment 1 to start', async () => {
      const s = await handle.query(statusQuery);
      return s.experimentsDone >= 1 ? s : undefined;
    });
    await cli(['pause', '--tag', 'steer']);
    const paused = await waitFor('the run to pause', async () => {
      const s = await handle.query(statusQuery);
      return s.phase === 'paused' ? s : undefined;
    });
    await cli(['redirect', 'try a wider model', '--tag', 'steer']);
    const still = await handle.query(statusQuery);
    assert.equal(still.phase, 'paused');
    assert.equal(still.experimentsDone, paused.experimentsDone, 'no experiment ran while paused');
    assert.equal(still.currentExperiment, null);

    // Not a wait of some seconds to see nothing happen: below, every experiment after the pause is
    // shown to have started after the resume, however long the pause lasted.
    const resumedAt = Date.now();
    await cli(['resume', '--tag', 'steer']);
    await waitFor('an experiment after resume', async () => {
      const s = await handle.query(statusQuery);
      return s.experimentsDone > paused.experimentsDone ? s : undefined;
    });
    await handle.signal('stop');
    const summary = (await handle.result()) as RunSummary;
    assert.equal(summary.reason, 'stopped');
    assert.ok(summary.experimentsDone > paused.experimentsDone);
    const later = readRecords(path.join(repo, '.git/autoresearch/runs/steer')).filter(
      (r) => r.n >= paused.experimentsDone,
    );
    for (const r of later)
      assert.ok(r.startedAt >= resumedAt, `experiment ${r.n} started after the resume, not while paused`);
    const status = JSON.parse(await cli(['status', '--tag', 'steer', '--json'])) as RunStatus;
    assert.deepEqual(status.notes, ['try a wider model']);
    assert.equal(status.phase, 'stopped');
    await assertRunInvariants(repo, 'steer', summary, checkout);
    const tsv = await cli(['results', '--tag', 'steer', '--tsv']);
    assert.equal(tsv, readFileSync(path.join(repo, '.git/autoresearch/runs/steer/results.tsv'), 'utf8'));
  });

  it('refuses bad input at start with a message that names the fix, touching nothing', async () => {
    await assert.rejects(
      startRun(client, { repo: '/nonexistent/target', tag: 'x', ...queues }),
      /does not exist/,
    );
    const repo = await makeFakeTarget();
    await assert.rejects(startRun(client, { repo, tag: 'bad tag!', ...queues }), /Tag "bad tag!"/);
    writeFileSync(path.join(repo, 'train.py'), 'LR = 1\n');
    await assert.rejects(
      startRun(client, { repo, tag: 'dirty', ...queues }),
      /uncommitted changes.*commit or stash/,
    );
    assert.equal(await git(repo, ['status', '--porcelain']), 'M train.py', 'the user edit is still there');
    await git(repo, ['checkout', 'train.py']);
    writeFileSync(path.join(repo, 'autoresearch.toml'), '[metric]\ndirection = "lower"\n');
    await git(repo, ['commit', '-qam', 'bad config']);
    await assert.rejects(startRun(client, { repo, tag: 'cfg', ...queues }), /metric\.direction/);
    await git(repo, ['branch', 'autoresearch/taken']);
    await git(repo, ['revert', '--no-edit', 'HEAD']);
    await assert.rejects(startRun(client, { repo, tag: 'taken', ...queues }), /already exists.*new tag/);
  });
});

describe('a finished run, with no worker left', () => {
  it('still answers status and results from its history and the run directory', async () => {
    const status = JSON.parse(await cli(['status', '--tag', 'steer', '--json'])) as RunStatus;
    assert.equal(status.phase, 'stopped');
    assert.ok(status.experimentsDone >= 2);
    assert.equal(status.metricName, 'val_bpb');
    const tsv = await cli(['results', '--tag', 'steer', '--tsv']);
    assert.equal(tsv.trimEnd().split('\n').length, status.experimentsDone + 1);
  });
});
