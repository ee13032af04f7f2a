// A real cluster, as a self-hosted deployment runs one: the Temporal server (built from Go modules, at
// the version the pinned CLI is built against) on a PostgreSQL cluster of its own, set up by the files
// docker-compose.yml's jobs run (deploy/temporal/). On it, a `--parallel 2` run trains on two worker
// processes, each with a home and a work directory of its own, sharing a bare git remote, and the
// server is stopped and started again while both trainings are in flight: every invariant holds.
// Loopback only, no Docker. What this machine lacks (Postgres, Go) is installed where it can be, and
// named with the way to get it where not: the test fails then, it does not skip.
import type { Client } from '@temporalio/client';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRun } from '../client';
import { candidateRef } from '../common/names';
import type { RunSummary } from '../common/types';
import { ensureTemporalCli, NO_TEMPORAL_CLI_HELP } from '../temporal/cliProvisioning';
import {
  ensureTemporalServer,
  serverVersionTheCliRequires,
  TEMPORAL_SERVER_VERSION,
  type TemporalServerBinaries,
} from '../temporal/serverProvisioning';
import { backlogGaps } from './support/backlogLatency';
import { spawnWorker } from './support/commandLines';
import { bareRemote, git, makeFakeTarget, makeGate } from './support/fakeTarget';
import { assertRunInvariants, checkoutState } from './support/invariants';
import {
  ensurePostgres,
  NO_POSTGRES_HELP,
  startPostgresCluster,
  type PostgresCluster,
} from './support/postgres';
import { trainingUnder } from './support/processes';
import { startTemporalCluster, type TemporalCluster } from './support/temporalCluster';
import {
  activityPollers,
  startWorkers,
  testClient,
  uniqueQueues,
  type RunningWorkers,
} from './support/temporal';
import { waitFor } from './support/waitFor';

const log = (line: string) => console.error(`[postgres cluster] ${line}`);

/**
 * The experiments whose training (the first, not a rerun with another seed) saved its outcome
 * (exp-NNNN.result.json) in the clones a worker's work directory holds.
 */
function trainedIn(workdir: string, tag: string): number[] {
  if (!existsSync(workdir)) return [];
  return readdirSync(workdir)
    .filter((f) => f.endsWith('.git'))
    .flatMap((clone) => {
      const logs = path.join(workdir, clone, 'autoresearch', 'runs', tag, 'logs');
      return existsSync(logs) ? readdirSync(logs) : [];
    })
    .flatMap((f) => /^exp-(\d{4})\.result\.json$/.exec(f)?.[1] ?? [])
    .map(Number);
}

describe('a Temporal cluster on PostgreSQL (the compose setup, without Docker)', () => {
  let postgres: PostgresCluster | undefined;
  let cluster: TemporalCluster | undefined;
  let binaries: TemporalServerBinaries | undefined;
  let client: Client | undefined;
  let control: RunningWorkers | undefined;
  const trainers: ChildProcess[] = [];

  before(
    async () => {
      const started = Date.now();
      const missing: string[] = [];
      const pg = await ensurePostgres(log);
      if (!pg) missing.push(NO_POSTGRES_HELP);
      // Built once into ~/.autoresearch/bin (minutes the first time); found there afterwards.
      binaries = await ensureTemporalServer(log).catch((err: Error) => {
        missing.push(err.message);
        return undefined;
      });
      const cli = await ensureTemporalCli(log);
      if (!cli) missing.push(NO_TEMPORAL_CLI_HELP);
      if (!pg || !binaries || !cli)
        throw new Error(
          `This test runs a real Temporal server on PostgreSQL, and this machine lacks what it needs ` +
            `(CI's .ci/run installs all of it):\n- ${missing.join('\n- ')}`,
        );
      postgres = await startPostgresCluster(pg);
      cluster = await startTemporalCluster(postgres, binaries, cli);
      client = await testClient(cluster.address);
      log(
        `Temporal ${TEMPORAL_SERVER_VERSION} on PostgreSQL at ${cluster.address}, ready in ${((Date.now() - started) / 1000).toFixed(0)}s`,
      );
    },
    // The first build of the server is a one-off of minutes: a net for a hang, not a measure.
    { timeout: 3_600_000 },
  );

  after(async () => {
    for (const c of trainers) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await control?.stop();
    await client?.connection.close();
    await cluster?.stop();
    await postgres?.stop();
  });

  it('runs the server the pinned CLI is built against', async () => {
    assert.equal(
      await serverVersionTheCliRequires(),
      TEMPORAL_SERVER_VERSION,
      'temporal/serverProvisioning.ts pins the server version the CLI in temporal/cliProvisioning.ts requires',
    );
    const info = await client!.workflowService.getSystemInfo({});
    assert.equal(`v${info.serverVersion}`, TEMPORAL_SERVER_VERSION);
  });

  it('reads deploy/temporal/dynamicconfig.yaml: an activity that waited starts as soon as its worker is free', async (t) => {
    const gaps = await backlogGaps(client!, cluster!.address, 8);
    t.diagnostic(`ms from one activity's end to the next one's start: ${gaps.join(', ')}`);
    assert.ok(
      gaps.every((ms) => ms < 800),
      `ms from one activity's end to the next one's start: ${gaps.join(', ')}`,
    );
  });

  it('carries a --parallel 2 run on two workers sharing a remote through a server restart: every invariant holds', async () => {
    const address = cluster!.address;
    const queues = uniqueQueues('postgres');
    control = await startWorkers(address, { ...queues, train: false });
    // After the baseline, trainings wait at a gate: the server goes down with one in each worker.
    const gate = makeGate();
    const repo = await makeFakeTarget({ gate, timeoutSeconds: 3600 });
    gate.release(); // the baseline
    const remote = await bareRemote(repo);
    const tag = 'pg';
    // Two machines, as far as the tool knows: a home (worker key, slots) and a work directory each.
    const homes = ['a', 'b'].map((name) => mkdtempSync(path.join(tmpdir(), `ar-pg-home-${name}-`)));
    const workdirs = homes.map((home) => {
      const dir = path.join(home, 'work');
      mkdirSync(dir);
      return dir;
    });
    homes.forEach((home, k) =>
      trainers.push(
        spawnWorker(
          address,
          queues,
          ['ignore', 'ignore', 'inherit'],
          ['--train-only', '--workdir', workdirs[k]!],
          {
            AUTORESEARCH_HOME: home,
            AUTORESEARCH_SLOTS_DIR: path.join(home, 'slots'),
          },
        ),
      ),
    );
    await activityPollers(client!, queues.trainTaskQueue, 2); // both training workers
    const checkout = await checkoutState(repo);
    const handle = await startRun(client!, {
      repo,
      tag,
      maxExperiments: 4,
      remote,
      parallel: 2,
      noiseRuns: 1,
      // A lost heartbeat is noticed within seconds once the server is back.
      heartbeatTimeoutSeconds: 5,
      ...queues,
    });
    await waitFor('a training in each worker', () => (homes.every(trainingUnder) ? true : undefined));

    // The server goes away with both trainings in flight; they end while it is down, so their results
    // wait in the workers (and their saved outcomes) for a server to report to.
    await cluster!.stopServer();
    const saved = workdirs.map((dir) => trainedIn(dir, tag).length);
    gate.open();
    await waitFor('both trainings to end and save their outcome while the server is down', () =>
      workdirs.every((dir, k) => trainedIn(dir, tag).length > saved[k]!) ? true : undefined,
    );
    // The schema job again, as a `docker compose up` after an upgrade runs it: nothing new to apply.
    await cluster!.runSchema();
    await cluster!.startServer();
    await cluster!.runSetup(); // idempotent too

    const summary = (await handle.result()) as RunSummary;
    assert.equal(summary.experimentsDone, 5);
    const records = await assertRunInvariants(repo, tag, summary, checkout);
    const trainedBy = workdirs.map((dir) => trainedIn(dir, tag));
    assert.ok(
      trainedBy.every((ns) => ns.length > 0),
      `both workers trained: experiments ${trainedBy.map((ns) => ns.join(',')).join(' and ')}`,
    );
    for (const r of records) {
      if (r.status === 'invalid' && r.commit === r.parent) continue; // no candidate, nothing trained
      const where = trainedBy.filter((ns) => ns.includes(r.n)).length;
      // One the run ended with in flight is cancelled, trained or not, and set aside on the control side.
      if (r.status === 'cancelled') {
        assert.ok(where <= 1, `cancelled experiment ${r.n} trained at most once`);
        continue;
      }
      assert.equal(where, 1, `experiment ${r.n} trained in exactly one worker (${r.status})`);
      assert.equal(
        await git(remote, ['rev-parse', candidateRef(tag, r.n)]),
        r.commit,
        `exp ${r.n} published`,
      );
    }
    assert.equal(await git(remote, ['rev-parse', `refs/heads/autoresearch/${tag}`]), summary.best?.commit);

    // Visibility on Postgres: the run is found by the project's search attributes.
    const listed = await waitFor('the finished run to be listed by its search attributes', async () => {
      const found = [];
      for await (const w of client!.workflow.list({
        query: `AutoresearchTag = '${tag}' AND AutoresearchStatus = 'finished' AND ExecutionStatus = 'Completed'`,
      }))
        found.push(w);
      return found.length ? found : undefined;
    });
    assert.deepEqual(
      listed.map((w) => w.workflowId),
      [handle.workflowId],
    );
  });
});
