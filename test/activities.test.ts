// Activities on real git repos and real processes, outside any workflow: idempotency under retries,
// the edit gate, the branch's compare-and-swap, and the training process's lifecycle.
import { MockActivityEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { prepareRun } from '../activities/prepare';
import { createTrainActivities } from '../activities/train';
import { proposeCandidate, type ProposeInput } from '../activities/propose';
import { recordExperiment } from '../activities/record';
import { Repo } from '../lib/node/git';
import { runSupervised } from '../lib/node/runSupervised';
import { trainingEnv } from '../lib/node/trainingEnv';
import { InvalidEdit, validateEdit } from '../lib/node/validateEdit';
import type { ExperimentRecord, PreparedRun, TrainingOutcome } from '../lib/types';
import { git, makeFakeTarget } from './support/fakeTarget';
import { isRunning } from './support/processes';
import { waitFor } from './support/waitFor';

async function prepared(repo: string, tag: string): Promise<PreparedRun> {
  const env = new MockActivityEnvironment({
    workflowExecution: { workflowId: `autoresearch-${tag}`, runId: 'run-1' },
  });
  return env.run(prepareRun, { repo, tag });
}

/** Experiment 1 of a prepared run, proposed by the mutate proposer. */
function firstProposal(repo: string, tag: string, run: PreparedRun): ProposeInput {
  const { baseCommit: parent, config, runDir } = run;
  return { repo, tag, n: 1, parent, proposer: 'mutate', seed: 0, config, notes: [], runDir };
}

describe('prepare and propose', () => {
  it('prepare is idempotent for its own run and refuses another run on the same branch', async () => {
    const repo = await makeFakeTarget();
    const a = await prepared(repo, 'p');
    const b = await prepared(repo, 'p');
    assert.deepEqual(a, b);
    assert.equal(await git(repo, ['rev-parse', 'autoresearch/p']), a.baseCommit);
    assert.deepEqual(Object.keys(a.frozenBlobs), ['prepare.py']);
    const other = new MockActivityEnvironment({
      workflowExecution: { workflowId: 'autoresearch-p', runId: 'run-2' },
    });
    await assert.rejects(other.run(prepareRun, { repo, tag: 'p' }), /already exists/);
  });

  it('a karpathy/autoresearch layout needs no config; a missing file is named', async () => {
    const repo = await makeFakeTarget();
    await git(repo, ['rm', '-q', 'autoresearch.toml']);
    await git(repo, ['commit', '-qm', 'plain autoresearch layout']);
    const run = await prepared(repo, 'plain');
    assert.equal(run.config.train.command, 'uv run train.py');
    assert.deepEqual(run.config.train.setup, ['uv sync', 'uv run prepare.py']);
    assert.equal(run.config.train.timeoutSeconds, 600);
    assert.deepEqual(run.config.files, {
      editable: ['train.py'],
      frozen: ['prepare.py'],
      program: 'program.md',
    });
    await git(repo, ['rm', '-q', 'program.md']);
    await git(repo, ['commit', '-qm', 'no program']);
    await assert.rejects(prepared(repo, 'noprog'), /missing program\.md.*autoresearch\.toml/);
  });

  it('a retried proposal returns the same candidate; later ones never repeat a tried edit', async () => {
    const repo = await makeFakeTarget();
    const run = await prepared(repo, 'q');
    const input = firstProposal(repo, 'q', run);
    const first = await proposeCandidate(input);
    const retry = await proposeCandidate(input);
    assert.deepEqual(retry, first);
    assert.equal(await git(repo, ['rev-parse', 'refs/autoresearch/q/exp/1']), first.commit);
    assert.deepEqual(await git(repo, ['diff', '--name-only', run.baseCommit, first.commit]), 'train.py');

    const trees = new Set([await git(repo, [`rev-parse`, `${first.commit}^{tree}`])]);
    for (let n = 2; n <= 12; n++) {
      const c = await proposeCandidate({ ...input, n });
      const tree = await git(repo, ['rev-parse', `${c.commit}^{tree}`]);
      assert.ok(!trees.has(tree), `experiment ${n} repeats an earlier edit: ${c.description}`);
      trees.add(tree);
    }
    assert.equal(await git(repo, ['status', '--porcelain']), '', 'proposing never touches the working tree');
  });

  it('the edit gate refuses frozen files, empty files and code that does not parse', async () => {
    const repo = await makeFakeTarget();
    const { config } = await prepared(repo, 'g');
    await assert.rejects(validateEdit(config, { 'prepare.py': 'x = 1\n' }), /not editable/);
    await assert.rejects(validateEdit(config, { 'train.py': '  \n' }), /empty/);
    await assert.rejects(
      validateEdit(config, { 'train.py': 'def f(:\n' }),
      (e: Error) => e instanceof InvalidEdit && /does not parse/.test(e.message),
    );
    await validateEdit(config, { 'train.py': 'x = 1\n' });
  });
});

describe('record', () => {
  it('moves the branch only from the expected commit, and rewrites results.tsv idempotently', async () => {
    const repo = await makeFakeTarget();
    const run = await prepared(repo, 'r');
    const candidate = await proposeCandidate(firstProposal(repo, 'r', run));
    const record: ExperimentRecord = {
      n: 1,
      parent: run.baseCommit,
      commit: candidate.commit,
      description: candidate.description,
      status: 'keep',
      metric: 0.5,
      memoryGb: 1,
      trainSeconds: 1,
      startedAt: 0,
      finishedAt: 1,
    };
    const input = { repo, runDir: run.runDir, branch: run.branch, record, previousBest: run.baseCommit };
    await recordExperiment(input);
    const once = readFileSync(path.join(run.runDir, 'results.tsv'), 'utf8');
    await recordExperiment(input); // a retry
    assert.equal(readFileSync(path.join(run.runDir, 'results.tsv'), 'utf8'), once);
    assert.equal(await git(repo, ['rev-parse', run.branch]), candidate.commit);

    // Someone else moved the branch: the run refuses to clobber it.
    await git(repo, ['update-ref', `refs/heads/${run.branch}`, run.baseCommit]);
    await assert.rejects(
      recordExperiment({ ...input, record: { ...record, n: 2 }, previousBest: candidate.commit }),
      /something else moved the research branch/,
    );
  });
});

describe('training, retried', () => {
  it('never runs a finished training again: a retry after the worker died past its end resumes from there', async () => {
    // train.py counts its own completed runs in a file outside the repo.
    const ledger = path.join(mkdtempSync(path.join(tmpdir(), 'ar-ledger-')), 'runs');
    const repo = await makeFakeTarget({ extra: `open(${JSON.stringify(ledger)}, "a").write("done\\n")` });
    const run = await prepared(repo, 'resume');
    const { trainCandidate } = createTrainActivities({ slot: 'gpu0' });
    const input = { repo, tag: 'resume', n: 0, commit: run.baseCommit, config: run.config };
    const env = () => new MockActivityEnvironment({ heartbeatTimeoutMs: 30_000 });
    const first: TrainingOutcome = await env().run(trainCandidate, input);
    assert.equal(readFileSync(ledger, 'utf8'), 'done\n');
    // The worker died after the training ended but before its result was saved: only the trained marker is left.
    rmSync(first.logPath.replace(/\.log$/, '.result.json'));
    const again = await env().run(trainCandidate, input);
    assert.equal(readFileSync(ledger, 'utf8'), 'done\n', 'the training did not run a second time');
    assert.deepEqual(again, first);
    // Another commit in the slot since then: what the training wrote is gone, so it trains again.
    rmSync(first.logPath.replace(/\.log$/, '.result.json'));
    const other = await git(repo, ['commit-tree', 'HEAD^{tree}', '-p', 'HEAD', '-m', 'other']);
    await git(path.join(repo, '.git/autoresearch/slots/gpu0/worktree'), [
      'checkout',
      '-q',
      '--detach',
      other,
    ]);
    await env().run(trainCandidate, input);
    assert.equal(readFileSync(ledger, 'utf8'), 'done\ndone\n');
  });
});

describe('training with a seed', () => {
  it('gives the training the seed the way the target says: a variable, or a flag on the command', async () => {
    const repo = await makeFakeTarget({
      extra: 'print(f"seed from env: {os.environ.get(\'SEED\')}; argv: {sys.argv[1:]}")',
    });
    const run = await prepared(repo, 'seeded');
    const { trainCandidate } = createTrainActivities({ slot: 'gpu0' });
    const env = () => new MockActivityEnvironment({ heartbeatTimeoutMs: 30_000 });
    const train = async (n: number, seedEnv?: string, seedArg?: string) => {
      const config = { ...run.config, train: { ...run.config.train, seedEnv, seedArg } };
      const outcome: TrainingOutcome = await env().run(trainCandidate, {
        repo,
        tag: 'seeded',
        n,
        commit: run.baseCommit,
        config,
        seed: 7,
      });
      return readFileSync(outcome.logPath, 'utf8');
    };
    assert.match(await train(0, 'SEED'), /seed from env: 7; argv: \[\]/);
    assert.match(await train(1, undefined, '--seed'), /seed from env: None; argv: \['--seed', '7'\]/);
    await assert.rejects(train(2), /does not say how to set the training's random seed/);
  });
});

describe('running a training process', () => {
  const tmp = () => mkdtempSync(path.join(tmpdir(), 'ar-proc-'));

  it('kills the whole process group at the hard timeout', async () => {
    const dir = tmp();
    const result = await runSupervised({
      command: 'sleep 60 & echo child $! ; sleep 60',
      cwd: dir,
      env: process.env,
      logPath: path.join(dir, 'log'),
      timeoutSeconds: 1,
      pidFile: path.join(dir, 'pid'),
    });
    assert.equal(result.timedOut, true);
    assert.ok(result.seconds < 60, 'killed, not waited for (the command sleeps a minute)');
    const child = Number(/child (\d+)/.exec(readFileSync(path.join(dir, 'log'), 'utf8'))![1]);
    // A killed process is gone once the kernel has run its exit, which on a loaded machine takes a while.
    await waitFor('the background grandchild to be gone too', () => (isRunning(child) ? undefined : true));
  });

  it('stops on cancellation and reports the exit code otherwise', async () => {
    const dir = tmp();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const cancelled = await runSupervised({
      command: 'sleep 60',
      cwd: dir,
      env: process.env,
      logPath: path.join(dir, 'a'),
      timeoutSeconds: 60,
      pidFile: path.join(dir, 'pid'),
      cancel: controller.signal,
    });
    assert.equal(cancelled.cancelled, true);
    const failed = await runSupervised({
      command: 'echo boom; exit 3',
      cwd: dir,
      env: process.env,
      logPath: path.join(dir, 'b'),
      timeoutSeconds: 60,
      pidFile: path.join(dir, 'pid'),
    });
    assert.equal(failed.exitCode, 3);
    assert.equal(readFileSync(path.join(dir, 'b'), 'utf8'), 'boom\n');
  });

  it('never hands secrets to the training process', async () => {
    const dir = tmp();
    const env = trainingEnv(
      { ...process.env, ANTHROPIC_API_KEY: 'sk-ant-test-not-real', TEMPORAL_API_KEY: 'tk' },
      { budgetSeconds: 7 },
    );
    await runSupervised({
      command: 'env',
      cwd: dir,
      env,
      logPath: path.join(dir, 'env'),
      timeoutSeconds: 10,
      pidFile: path.join(dir, 'pid'),
    });
    const seen = readFileSync(path.join(dir, 'env'), 'utf8');
    assert.doesNotMatch(seen, /sk-ant-test-not-real|TEMPORAL_API_KEY/);
    assert.match(seen, /^AUTORESEARCH_TIME_BUDGET=7$/m);
  });

  it('Repo.open explains what is wrong with a target', async () => {
    await assert.rejects(Repo.open(tmp()), /not a git repository.*git init/);
    const empty = tmp();
    await git(empty, ['init', '-q']);
    await assert.rejects(Repo.open(empty), /no commits yet/);
  });
});
