// The loop on a real Temporal server with a fast fake target: decisions, crashes, steering, bad input.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { readRecords } from '../store/runDirectory';
import { startRun } from '../client';
import type { RunStatus, RunSummary } from '../common/types';
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

describe("the training step's bound", () => {
  let workers: RunningWorkers;
  let queues: ReturnType<typeof uniqueQueues>;
  before(async () => {
    queues = uniqueQueues('bound');
    workers = await startWorkers(address, queues);
  });
  after(async () => workers.stop());

  it('covers every part of the step: set-up, training and evaluation', async () => {
    const repo = await makeFakeTarget();
    // A set-up allowed longer than the old bound (training timeout + 30 minutes) gave the whole step.
    writeFileSync(
      path.join(repo, 'autoresearch.toml'),
      '[train]\ncommand = "python3 train.py"\nsetup = []\ntimeout_seconds = 60\nsetup_timeout_seconds = 3600\n' +
        '[eval]\ncommand = "python3 -c \'print(1)\'"\ntimeout_seconds = 120\n' +
        '[metric]\npattern = "^(\\\\d)$"\n',
    );
    await git(repo, ['commit', '-qam', 'a slow set-up']);
    const handle = await startRun(client, { repo, tag: 'bound', maxExperiments: 1, ...queues });
    await handle.result();
    const history = await handle.fetchHistory();
    const trainings = (history.events ?? [])
      .map((e) => e.activityTaskScheduledEventAttributes)
      .filter((a) => a?.activityType?.name === 'trainCandidate');
    assert.ok(trainings.length >= 2, 'the baseline and experiment 1 trained');
    for (const a of trainings) {
      const seconds = Number(a!.startToCloseTimeout!.seconds);
      assert.ok(
        seconds >= 3600 + 60 + 120,
        `start-to-close ${seconds}s covers set-up 3600 + training 60 + evaluation 120`,
      );
    }
  });
});

describe('a run started with no worker up', () => {
  it('has for baseline the commit start checked, not the HEAD a worker finds when it picks the run up', async () => {
    const repo = await makeFakeTarget();
    const checked = await git(repo, ['rev-parse', 'HEAD']);
    const queues = uniqueQueues('late');
    const handle = await startRun(client, { repo, tag: 'late-worker', maxExperiments: 1, ...queues });
    // The user goes on working before any worker is up.
    const train = path.join(repo, 'train.py');
    writeFileSync(train, readFileSync(train, 'utf8').replace('WIDTH = 16', 'WIDTH = 20'));
    await git(repo, ['commit', '-qam', 'later work']);
    const later = await git(repo, ['rev-parse', 'HEAD']);
    const checkout = await checkoutState(repo);
    const workers = await startWorkers(address, queues);
    try {
      const summary = (await handle.result()) as RunSummary;
      const records = await assertRunInvariants(repo, 'late-worker', summary, checkout);
      assert.equal(records[0]!.commit, checked, 'experiment 0 trained the commit start checked');
      assert.equal(handle.baseline, checked, 'start says which commit it pinned');
      assert.equal(records[1]!.parent, checked);
      assert.equal(
        await git(repo, ['merge-base', 'autoresearch/late-worker', later]),
        checked,
        'the research branch grows from the commit start checked',
      );
      assert.equal(
        await git(repo, ['rev-parse', 'HEAD']),
        later,
        "the user's checkout stays where they put it",
      );
    } finally {
      await workers.stop();
    }
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
