// Durability under real failures: a worker SIGKILLed mid-training, and the server restarted on its
// SQLite file mid-run. The run must finish with every experiment exactly once and no orphan left.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { startRun } from '../client';
import type { RunSummary } from '../common/types';
import { slotDir } from '../store/runDirectory';
import { statusQuery } from '../workflows/messages';
import { spawnWorker } from './support/commandLines';
import { makeFakeTarget, makeGate } from './support/fakeTarget';
import { runningInGroup } from './support/processes';
import { assertRunInvariants, checkoutState } from './support/invariants';
import { waitFor } from './support/waitFor';
import {
  freePort,
  startOwnServer,
  startWorkers,
  testClient,
  testServer,
  uniqueQueues,
} from './support/temporal';

describe('durability', () => {
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it('survives a worker SIGKILLed while training: no orphan, every experiment exactly once', async () => {
    const address = await testServer();
    const client = await testClient(address);
    const queues = uniqueQueues('kill');
    // Experiment 1 trains until the worker is dead (a gate the test opens after), however slow the machine.
    const gate = makeGate();
    const repo = await makeFakeTarget({ gate, timeoutSeconds: 3600 });
    gate.release(); // the baseline
    const checkout = await checkoutState(repo);
    const first = spawnWorker(address, queues);
    children.push(first);
    const handle = await startRun(client, {
      repo,
      tag: 'kill9',
      maxExperiments: 2,
      noiseRuns: 1, // one baseline training: the gate lets one through
      heartbeatTimeoutSeconds: 3,
      ...queues,
    });

    const pidFile = path.join(slotDir(path.join(repo, '.git'), 'gpu0'), 'training.pid');
    await waitFor('experiment 1 to be training', async () => {
      const s = await handle.query(statusQuery);
      return s.currentExperiment === 1 && s.phase === 'training' && existsSync(pidFile) ? s : undefined;
    });
    const pgid = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(runningInGroup(pgid).length > 0, 'the training process group is running');

    first.kill('SIGKILL');
    await waitFor('the killed worker to exit', () =>
      first.exitCode !== null || first.signalCode ? true : undefined,
    );
    await waitFor('the orphaned training group to be gone', () =>
      runningInGroup(pgid).length > 0 ? undefined : true,
    );

    gate.open();
    const second = spawnWorker(address, queues);
    children.push(second);
    const summary = (await handle.result()) as RunSummary;
    second.kill('SIGTERM');
    assert.equal(summary.experimentsDone, 3);
    const records = await assertRunInvariants(repo, 'kill9', summary, checkout);
    assert.deepEqual(
      records.map((r) => r.status === 'crash'),
      [false, false, false],
      'the killed experiment was retried, not recorded as a crash',
    );
    await client.connection.close();
  });

  it('carries on when the server is stopped and restarted on the same SQLite file', async () => {
    const db = path.join(mkdtempSync(path.join(tmpdir(), 'ar-restart-')), 'temporal.sqlite');
    const port = freePort();
    let server = await startOwnServer(db, port);
    const client = await testClient(server.address);
    const queues = uniqueQueues('restart');
    const workers = await startWorkers(server.address, queues);
    const repo = await makeFakeTarget({ sleepSeconds: 1.5 });
    const checkout = await checkoutState(repo);
    try {
      const handle = await startRun(client, {
        repo,
        tag: 'restart',
        maxExperiments: 4,
        heartbeatTimeoutSeconds: 5,
        ...queues,
      });
      await waitFor('two experiments', async () => {
        const s = await handle.query(statusQuery);
        return s.experimentsDone >= 2 ? s : undefined;
      });
      await server.stop();
      await new Promise((r) => setTimeout(r, 2000));
      server = await startOwnServer(db, port);
      const summary = (await handle.result()) as RunSummary;
      assert.equal(summary.experimentsDone, 5);
      await assertRunInvariants(repo, 'restart', summary, checkout);
    } finally {
      await workers.stop();
      await client.connection.close();
      await server.stop();
    }
  });
});
