// Several machines sharing a target through a git remote (a bare repository): the control side publishes
// the baseline, every candidate and the research branch there; training workers train from clones of
// their own and never open the target's repository. First the activities called directly, then a whole
// run with two training-only worker processes, each with its own work directory.
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Client } from '@temporalio/client';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { proposeCandidate } from '../activities/propose';
import { recordExperiment } from '../activities/record';
import { createTrainActivities, type TrainInput } from '../activities/train';
import { startRun, type StartRunRequest } from '../client';
import { candidateRef } from '../common/names';
import { fetchCommit, resolveRemote, trainingClone } from '../store/remote';
import type {
  Candidate,
  ExperimentRecord,
  PreparedRun,
  RunOptions,
  RunSummary,
  TrainingOutcome,
} from '../common/types';
import { spawnWorker } from './support/commandLines';
import {
  bareRemote,
  git,
  holdTraining,
  makeFakeTarget,
  makeGate,
  waitInTraining,
} from './support/fakeTarget';
import { assertRunInvariants, checkoutState } from './support/invariants';
import { preparedRun, proposalInput } from './support/prepared';
import { waitFor } from './support/waitFor';
import {
  activityPollers,
  startWorkers,
  testClient,
  testServer,
  uniqueQueues,
  type RunningWorkers,
} from './support/temporal';
import { slotDir, slotsRoot } from '../store/runDirectory';

function workdir(name: string): string {
  return mkdtempSync(path.join(tmpdir(), `ar-workdir-${name}-`));
}

const prepared = (repo: string, tag: string, remote: string) => preparedRun(repo, tag, { remote });
const proposal = (repo: string, tag: string, run: PreparedRun, remote: string, n = 1) =>
  proposalInput(repo, tag, run, { n, remote });

function train(
  trainCandidate: (input: TrainInput) => Promise<TrainingOutcome>,
  input: TrainInput,
): Promise<TrainingOutcome> {
  return new MockActivityEnvironment({ heartbeatTimeoutMs: 30_000 }).run(trainCandidate, input);
}

/** The bare clones a worker made in its work directory. */
function clonesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.git'))
    .map((f) => path.join(dir, f));
}

function logIn(clone: string, tag: string, n: number): string {
  return path.join(clone, 'autoresearch', 'runs', tag, 'logs', `exp-${String(n).padStart(4, '0')}.log`);
}

/** Where the target would hold training's files, had anything trained there. */
function trainedInTarget(repo: string, tag: string): boolean {
  return (
    existsSync(slotsRoot(path.join(repo, '.git'))) ||
    existsSync(path.join(repo, '.git', 'autoresearch', 'slots')) ||
    existsSync(path.join(repo, '.git', 'autoresearch', 'runs', tag, 'logs'))
  );
}

describe('training from a git remote (the activities alone)', () => {
  it('publishes the baseline, candidates and the kept branch; a worker trains them from its own clone', async () => {
    const repo = await makeFakeTarget();
    const remote = await bareRemote(repo);
    const tag = 'rem';
    const run = await prepared(repo, tag, remote);
    assert.equal(await git(remote, ['rev-parse', candidateRef(tag, 0)]), run.baseCommit);
    assert.equal(await git(remote, ['rev-parse', `refs/heads/autoresearch/${tag}`]), run.baseCommit);
    assert.deepEqual(await prepared(repo, tag, remote), run, 'a retried prepare publishes again, harmlessly');

    const input = proposal(repo, tag, run, remote);
    const candidate = await proposeCandidate(input);
    assert.equal(await git(remote, ['rev-parse', candidateRef(tag, 1)]), candidate.commit);
    // A retry after the first attempt died before its push publishes the same candidate.
    await git(remote, ['update-ref', '-d', candidateRef(tag, 1)]);
    assert.deepEqual(await proposeCandidate(input), candidate);
    assert.equal(await git(remote, ['rev-parse', candidateRef(tag, 1)]), candidate.commit);

    // The training worker is given a target path that does not exist on its machine: it never opens it.
    const dir = workdir('direct');
    const { trainCandidate } = createTrainActivities({ slot: 'gpu0', workdir: dir });
    const elsewhere = path.join(tmpdir(), 'not-on-this-machine', 'target');
    const common = { repo: elsewhere, tag, config: run.config, remote };
    const baseline = await train(trainCandidate, { ...common, n: 0, commit: run.baseCommit });
    const trained = await train(trainCandidate, { ...common, n: 1, commit: candidate.commit });
    for (const outcome of [baseline, trained]) {
      assert.equal(outcome.exitCode, 0, outcome.logTail);
      assert.match(outcome.metricText ?? '', /^\d+\.\d+$/);
      assert.ok(outcome.logPath.startsWith(dir + path.sep), `${outcome.logPath} is in the worker's workdir`);
      assert.ok(existsSync(outcome.logPath.replace(/\.log$/, '.result.json')));
    }
    const [clone, ...more] = clonesIn(dir);
    assert.ok(clone && more.length === 0, 'one clone per remote');
    assert.equal(baseline.logPath, logIn(clone, tag, 0));
    assert.equal(await git(clone, ['rev-parse', '--is-bare-repository']), 'true');
    assert.equal(await git(clone, ['rev-parse', candidateRef(tag, 1)]), candidate.commit);
    const worktree = path.join(slotDir(clone, 'gpu0'), 'worktree');
    assert.equal(await git(worktree, ['rev-parse', 'HEAD']), candidate.commit);
    assert.equal(await git(worktree, ['status', '--porcelain']), '', 'the slot is left clean');
    assert.equal(trainedInTarget(repo, tag), false, "nothing trained in the target's git dir");
    // A retry returns the saved result, with no fetch and no training.
    assert.deepEqual(await train(trainCandidate, { ...common, n: 1, commit: candidate.commit }), trained);

    // Keep: the research branch is published too.
    const record: ExperimentRecord = {
      n: 1,
      parent: run.baseCommit,
      commit: candidate.commit,
      description: candidate.description,
      status: 'keep',
      metric: 0.1,
      trainSeconds: 1,
      startedAt: 0,
      finishedAt: 1,
    };
    const keep = {
      repo,
      runDir: run.runDir,
      branch: run.branch,
      record,
      previousBest: run.baseCommit,
      remote,
    };
    await recordExperiment(keep);
    await recordExperiment(keep); // a retry
    assert.equal(await git(remote, ['rev-parse', `refs/heads/${run.branch}`]), candidate.commit);

    // Someone moved the branch on the remote to unrelated history: it is reported, never clobbered.
    const second = await proposeCandidate({ ...input, n: 2, parent: candidate.commit });
    const stranger = await git(remote, ['commit-tree', `${run.baseCommit}^{tree}`, '-m', 'someone else']);
    await git(remote, ['update-ref', `refs/heads/${run.branch}`, stranger]);
    await assert.rejects(
      recordExperiment({
        ...keep,
        record: { ...record, n: 2, parent: candidate.commit, commit: second.commit },
        previousBest: candidate.commit,
      }),
      /autoresearch\/rem on the remote .* something else moved it/,
    );
    assert.equal(await git(remote, ['rev-parse', `refs/heads/${run.branch}`]), stranger);
  });

  it('two slots of one worker train at once from one clone; a ref lock in the way is waited out or, stale, removed', async () => {
    const repo = await makeFakeTarget({ sleepSeconds: 1 });
    const remote = await bareRemote(repo);
    const tag = 'slots';
    const run = await prepared(repo, tag, remote);
    const candidates: Candidate[] = [];
    for (let n = 1; n <= 2; n++) candidates.push(await proposeCandidate(proposal(repo, tag, run, remote, n)));
    const dir = workdir('slots');
    const common = { repo: '/nowhere', tag, config: run.config, remote };
    const slots = ['gpu0', 'gpu1'].map(
      (slot) => createTrainActivities({ slot, workdir: dir }).trainCandidate,
    );
    const both = await Promise.all(
      slots.map((t, k) => train(t, { ...common, n: k + 1, commit: candidates[k]!.commit })),
    );
    assert.deepEqual(
      both.map((o) => [o.exitCode, o.slot]),
      [
        [0, 'gpu0'],
        [0, 'gpu1'],
      ],
    );
    assert.equal(clonesIn(dir).length, 1, 'both slots share one clone');

    // Proposed only now, so that no earlier fetch can have brought them (a fetch by the run's refs would).
    for (let n = 3; n <= 4; n++) candidates.push(await proposeCandidate(proposal(repo, tag, run, remote, n)));
    // Another process fetching into the same ref holds its lock for a moment: the fetch waits it out.
    const clone = await trainingClone(dir, remote);
    const lock = path.join(clone.commonDir, `${candidateRef(tag, 3)}.lock`);
    mkdirSync(path.dirname(lock), { recursive: true });
    writeFileSync(lock, '');
    setTimeout(() => rmSync(lock, { force: true }), 700);
    assert.equal(await fetchCommit(clone, remote, candidates[2]!.commit, candidateRef(tag, 3)), 'by-sha');
    // A lock a killed git left behind long ago is removed.
    const stale = path.join(clone.commonDir, `${candidateRef(tag, 4)}.lock`);
    writeFileSync(stale, '');
    const old = new Date(Date.now() - 10 * 60_000);
    utimesSync(stale, old, old);
    assert.equal(await fetchCommit(clone, remote, candidates[3]!.commit, candidateRef(tag, 4)), 'by-sha');
    assert.equal(existsSync(stale), false);
    assert.equal(await fetchCommit(clone, remote, candidates[3]!.commit, candidateRef(tag, 4)), 'present');
  });

  it('fetches by SHA, or by the run refs where the server refuses unadvertised objects; a commit not there is named', async () => {
    const repo = await makeFakeTarget();
    const remote = await bareRemote(repo);
    const tag = 'fetch';
    const run = await prepared(repo, tag, remote);
    const candidate = await proposeCandidate(proposal(repo, tag, run, remote));
    const ref = candidateRef(tag, 1);
    // The candidate is no ref's tip on the remote any more, only reachable through a later commit on
    // top of it. Protocol v2 (git's default) serves it by SHA; v0 (an old server, or this config) serves
    // only the tips of advertised refs, so the run's refs are fetched instead.
    const child = await commitOnTop(repo, candidate.commit, 'on top');
    await git(repo, ['push', '-q', remote, `${child}:${candidateRef(tag, 2)}`, `:${ref}`]);
    assert.equal(
      await fetchCommit(await trainingClone(workdir('v2'), remote), remote, candidate.commit, ref),
      'by-sha',
    );
    const config = mkdtempSync(path.join(tmpdir(), 'ar-xdg-'));
    mkdirSync(path.join(config, 'git'));
    writeFileSync(path.join(config, 'git', 'config'), '[protocol]\n\tversion = 0\n');
    const saved = process.env.XDG_CONFIG_HOME;
    process.env.XDG_CONFIG_HOME = config;
    try {
      const clone = await trainingClone(workdir('v0'), remote);
      assert.equal(await fetchCommit(clone, remote, candidate.commit, ref), 'by-ref');
      assert.equal(await git(clone.commonDir, ['rev-parse', candidateRef(tag, 2)]), child);
    } finally {
      if (saved === undefined) delete process.env.XDG_CONFIG_HOME;
      else process.env.XDG_CONFIG_HOME = saved;
    }

    const unpublished = await commitOnTop(repo, run.baseCommit, 'x');
    await assert.rejects(
      fetchCommit(await trainingClone(workdir('missing'), remote), remote, unpublished, candidateRef(tag, 3)),
      /could not fetch commit [0-9a-f]{7} from the remote .*publishes every candidate there/,
    );
  });

  it('names a local remote by its absolute path, and leaves URLs alone', () => {
    assert.equal(resolveRemote('shared/target.git'), path.resolve('shared/target.git'));
    for (const url of ['git@host:target.git', 'host:target.git', 'ssh://host/srv/t.git', 'file:///srv/t.git'])
      assert.equal(resolveRemote(url), url);
  });
});

describe('a run across machines: training workers with clones of their own', () => {
  const queues = uniqueQueues('remote');
  const trainers: ChildProcess[] = [];
  let client: Client;
  let control: RunningWorkers | undefined;
  // What the control worker lets the command proposer run: a test adds its agent before its run starts.
  const agentCommands: string[] = [];
  before(async () => {
    const address = await testServer();
    client = await testClient(address);
    // The machine with the target: workflows and control steps only, no training slot.
    control = await startWorkers(address, { ...queues, train: false, agentCommands });
  });
  after(async () => {
    for (const c of trainers) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await control?.stop();
    await client?.connection.close();
  });

  it('trains every candidate in the training workers’ own clones, and publishes the result', async () => {
    const address = await testServer();
    // After the baseline, trainings wait at a gate until each worker holds one (a worker trains one at
    // a time): both train, however slow the machine.
    const gate = makeGate();
    const repo = await makeFakeTarget({ gate, timeoutSeconds: 3600 });
    gate.release(); // the baseline
    const remote = await bareRemote(repo);
    const tag = 'fleet';
    const dirs = [workdir('a'), workdir('b')];
    for (const dir of dirs)
      trainers.push(
        spawnWorker(address, queues, ['ignore', 'ignore', 'inherit'], ['--train-only', '--workdir', dir]),
      );
    await activityPollers(client, queues.trainTaskQueue, 2); // both training workers
    const checkout = await checkoutState(repo);
    // Two experiments in flight: one on each worker.
    const request: StartRunRequest = {
      repo,
      tag,
      maxExperiments: 4,
      remote,
      parallel: 2,
      noiseRuns: 1,
      ...queues,
    };
    const handle = await startRun(client, request);
    await waitFor('a training in each worker', () =>
      dirs.every((dir) => trainingIn(dir)) ? true : undefined,
    );
    gate.open();
    const summary = (await handle.result()) as RunSummary;
    assert.equal(summary.experimentsDone, 5);
    const records = await assertRunInvariants(repo, tag, summary, checkout);

    const options = await startedWith(client, handle.workflowId);
    assert.equal(options.remote, remote);
    assert.equal(trainedInTarget(repo, tag), false, "nothing trained in the target's git dir");
    const published = await git(remote, ['for-each-ref', '--format=%(refname)', `refs/autoresearch/${tag}/`]);
    assert.match(
      published,
      /\/exp\/0$/m,
      'the baseline is on the remote (the workflow gives prepareRun `remote`)',
    );
    for (const r of records)
      assert.doesNotMatch(r.reason ?? '', /could not fetch/, `exp ${r.n}: its candidate was on the remote`);
    const trainedBy = dirs.map(() => 0);
    for (const r of records) {
      if (r.status === 'invalid' && r.commit === r.parent) continue;
      const where = dirs.flatMap((dir, k) =>
        clonesIn(dir)
          .filter((clone) => existsSync(logIn(clone, tag, r.n)))
          .map(() => k),
      );
      // A cancelled experiment (the run ended with it in flight) may have trained or not.
      if (r.status === 'cancelled' && where.length === 0) continue;
      assert.equal(where.length, 1, `experiment ${r.n} trained in exactly one worker's clone (${r.status})`);
      trainedBy[where[0]!]! += 1;
      assert.ok(
        existsSync(logIn(clonesIn(dirs[where[0]!]!)[0]!, tag, r.n).replace(/\.log$/, '.result.json')),
      );
      assert.equal(
        await git(remote, ['rev-parse', candidateRef(tag, r.n)]),
        r.commit,
        `exp ${r.n} published`,
      );
    }
    assert.equal(options.parallel, 2);
    assert.ok(
      trainedBy.every((count) => count > 0),
      `both workers trained: ${trainedBy.join(' and ')}`,
    );
    assert.equal(await git(remote, ['rev-parse', `refs/heads/autoresearch/${tag}`]), summary.best?.commit);
  });

  it('publishes a sibling keep (a second keep proposed on the same best) and carries on', async () => {
    const address = await testServer();
    // Experiment 1 (LR 0.012) finishes only once experiment 2 (LR 0.014) trains, so both are proposed
    // on the baseline; experiment 2 finishes only when the test releases it, after experiment 1's keep.
    const second = holdTraining('LEARNING_RATE == 0.014');
    const repo = await makeFakeTarget({
      extra: `${second.code}\n${waitInTraining('LEARNING_RATE == 0.012', second.started)}`,
      timeoutSeconds: 3600,
    });
    const remote = await bareRemote(repo);
    const tag = 'siblings';
    for (const name of ['sib-a', 'sib-b'])
      trainers.push(
        spawnWorker(
          address,
          queues,
          ['ignore', 'ignore', 'inherit'],
          ['--train-only', '--workdir', workdir(name)],
        ),
      );
    // Both proposals are made on the baseline; each improves on everything before it (0.16, then 0.14).
    const agent =
      'lr=$([ "$AUTORESEARCH_EXPERIMENT" = 1 ] && echo 0.012 || echo 0.014) && ' +
      'sed -i "s/^LEARNING_RATE = 0.01 /LEARNING_RATE = $lr /" train.py && ' +
      'echo "LR $lr" > "$AUTORESEARCH_DESCRIPTION_FILE"';
    agentCommands.push(agent);
    const checkout = await checkoutState(repo);
    const handle = await startRun(client, {
      repo,
      tag,
      maxExperiments: 2,
      remote,
      parallel: 2,
      pipeline: false,
      noiseRuns: 1,
      keepRule: 'strict',
      proposer: 'command',
      command: { command: agent, timeoutSeconds: 600 },
      ...queues,
    });
    const branch = `refs/heads/autoresearch/${tag}`;
    await waitFor(
      'experiment 1 kept and published',
      async () => {
        const first = await git(remote, ['rev-parse', '--verify', '-q', candidateRef(tag, 1)]);
        return first && (await git(remote, ['rev-parse', branch])) === first ? true : undefined;
      },
      5 * 60_000,
    );
    second.release();
    const summary = (await handle.result()) as RunSummary;
    const records = await assertRunInvariants(repo, tag, summary, checkout);
    assert.deepEqual(
      records.map((r) => [r.n, r.status, r.description]),
      [
        [0, 'keep', 'baseline'],
        [1, 'keep', 'LR 0.012'],
        [2, 'keep', 'LR 0.014'],
      ],
    );
    assert.equal(records[2]!.parent, records[0]!.commit, 'experiment 2 is a sibling of experiment 1');
    assert.equal(summary.best?.n, 2);
    assert.equal(
      await git(remote, ['rev-parse', branch]),
      summary.best?.commit,
      'the remote branch is the best',
    );
    assert.equal(await git(repo, ['rev-parse', branch]), summary.best?.commit);
  });

  it('refuses to start with a remote that does not answer, or one holding a run of the same tag', async () => {
    const repo = await makeFakeTarget();
    const missing = path.join(tmpdir(), 'ar-no-such-remote', 'target.git');
    await assert.rejects(
      startRun(client, { repo, tag: 'unreachable', remote: missing, ...queues }),
      (err: Error) =>
        /The remote .*ar-no-such-remote\/target\.git does not answer/.test(err.message) &&
        /git init --bare/.test(err.message) &&
        /leave out --remote/.test(err.message),
    );
    assert.equal(
      await git(repo, ['branch', '--list', 'autoresearch/unreachable']),
      '',
      'nothing was started',
    );

    const remote = await bareRemote(repo);
    await git(repo, ['push', '-q', remote, 'HEAD:refs/heads/autoresearch/taken']);
    await assert.rejects(
      startRun(client, { repo, tag: 'taken', remote, ...queues }),
      /already holds a run tagged taken .*--tag takenb/,
    );
  });
});

/** Whether a `python3 train.py` runs in a slot of one of the clones in `dir` (a worker's work directory). */
function trainingIn(dir: string): boolean {
  // The worker's slots are those of its clones (under the tool's home, see slotDir).
  const slots = clonesIn(dir).map((clone) => slotsRoot(clone) + path.sep);
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .some((pid) => {
      try {
        return (
          slots.some((root) => readlinkSync(`/proc/${pid}/cwd`).startsWith(root)) &&
          readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('python3\0train.py')
        );
      } catch {
        return false; // gone meanwhile
      }
    });
}

/** The options a run was started with, from the first event of its history. */
async function startedWith(client: Client, workflowId: string): Promise<RunOptions> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  assert.ok(payload?.data);
  return JSON.parse(Buffer.from(payload.data).toString('utf8')) as RunOptions;
}

/** A new commit with `parent`'s tree, on top of it (no working tree involved). */
function commitOnTop(repo: string, parent: string, message: string): Promise<string> {
  return git(repo, ['commit-tree', `${parent}^{tree}`, '-p', parent, '-m', message]);
}
