// Activities on real git repos and real processes, outside any workflow: idempotency under retries,
// the edit gate, the branch's compare-and-swap, and the training process's lifecycle.
import { MockActivityEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { evaluateCandidate, scoreOutcome } from '../activities/evaluate';
import { prepareRun } from '../activities/prepare';
import { createTrainActivities } from '../activities/train';
import { proposeCandidate, type ProposeInput } from '../activities/propose';
import { recordExperiment } from '../activities/record';
import { isTargetError } from '../common/errors';
import { Repo } from '../store/git';
import { runSupervised } from '../training/runSupervised';
import { trainingEnv } from '../training/environment';
import { InvalidEdit, validateEdit } from '../proposers/editGate';
import type { ExperimentRecord, PreparedRun, TrainingOutcome } from '../common/types';
import { git, makeFakeTarget, makeTarget, signalsDir, signalsSandboxToml } from './support/fakeTarget';
import { isRunning, pathWithout, runningInGroup, withPath } from './support/processes';
import { preparedRun, proposalInput } from './support/prepared';
import { waitFor } from './support/waitFor';
import { slotDir } from '../store/runDirectory';

const prepared = (repo: string, tag: string) => preparedRun(repo, tag);
const TRAIN_THEN_DIE = fileURLToPath(new URL('./support/trainThenDie.ts', import.meta.url));
const firstProposal = proposalInput;

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

  it('prepare takes the baseline start pinned, whatever HEAD is now, and refuses one that is gone', async () => {
    const repo = await makeFakeTarget();
    const checked = await git(repo, ['rev-parse', 'HEAD']);
    await git(repo, ['commit', '-q', '--allow-empty', '-m', 'later work']);
    const env = new MockActivityEnvironment({
      workflowExecution: { workflowId: 'autoresearch-pinned', runId: 'run-1' },
    });
    const run = (await env.run(prepareRun, { repo, tag: 'pinned', baseline: checked })) as PreparedRun;
    assert.equal(run.baseCommit, checked);
    assert.equal(await git(repo, ['rev-parse', 'autoresearch/pinned']), checked);
    const gone = 'f'.repeat(40);
    await assert.rejects(
      env.run(prepareRun, { repo, tag: 'gone', baseline: gone }),
      new RegExp(
        `The baseline ${gone} that \`autoresearch start\` checked is no longer in .*restore that commit`,
      ),
    );
    // Workflow input is no command channel: a baseline that is not a commit SHA never reaches git.
    await assert.rejects(
      env.run(prepareRun, { repo, tag: 'gone', baseline: '--output=/tmp/x' }),
      /baseline must be a full commit SHA .*got "--output=\/tmp\/x"/,
    );
    assert.equal(
      await git(repo, ['for-each-ref', 'refs/heads/autoresearch/gone', 'refs/autoresearch/gone/']),
      '',
    );
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

describe('propose, on a control worker without python3', () => {
  it('prepare refuses the run before the branch exists and the baseline trains', async () => {
    const repo = await makeFakeTarget();
    await withPath(pathWithout(/^python/), () =>
      assert.rejects(prepared(repo, 'nopy-prepare'), (err: Error) => {
        assert.ok(isTargetError(err), `a TargetError, not ${err.constructor.name}: ${err.message}`);
        assert.match(
          err.message,
          /could not run python3 to check that train\.py parses \(spawn python3 ENOENT\)/,
        );
        return true;
      }),
    );
    assert.equal(await git(repo, ['for-each-ref', 'refs/heads/autoresearch/']), '', 'no branch was made');
  });

  it('stops at a target error naming python3 before the proposer runs (no paid attempt, no invalid experiment)', async () => {
    const repo = await makeFakeTarget();
    const run = await prepared(repo, 'nopy');
    const marker = path.join(mkdtempSync(path.join(tmpdir(), 'ar-agent-')), 'ran');
    // Shell built-ins only: the agent would run on this PATH too.
    const agent = `echo ran > ${JSON.stringify(marker)}; printf 'x = 2\\n' > train.py; echo "set x" > "$AUTORESEARCH_DESCRIPTION_FILE"`;
    const input: ProposeInput = {
      ...firstProposal(repo, 'nopy', run),
      proposer: 'command',
      command: { command: agent, timeoutSeconds: 60 },
    };
    await withPath(pathWithout(/^python/), () =>
      assert.rejects(proposeCandidate(input), (err: Error) => {
        assert.ok(isTargetError(err), `a TargetError, not ${err.constructor.name}: ${err.message}`);
        assert.match(
          err.message,
          /could not run python3 to check that train\.py parses \(spawn python3 ENOENT\).*install Python 3/,
        );
        return true;
      }),
    );
    assert.ok(
      !existsSync(marker),
      'the proposer never ran: nothing is paid for an edit that cannot be checked',
    );
    assert.equal(
      await git(repo, ['for-each-ref', 'refs/autoresearch/nopy/exp/1']),
      '',
      'no candidate was made',
    );
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

  it("writes results.tsv with the target's metric, and a memory column only when memory is reported", async () => {
    const repo = await makeFakeTarget();
    const run = await prepared(repo, 'loss');
    const record: ExperimentRecord = {
      n: 0,
      parent: run.baseCommit,
      commit: run.baseCommit,
      description: 'baseline',
      status: 'keep',
      metric: 2.5,
      trainSeconds: 1,
      startedAt: 0,
      finishedAt: 1,
    };
    const chart = { metricName: 'val_loss', direction: 'minimize' as const, title: 'loss' };
    await recordExperiment({
      repo,
      runDir: run.runDir,
      branch: run.branch,
      record,
      previousBest: run.baseCommit,
      chart,
    });
    assert.equal(
      readFileSync(path.join(run.runDir, 'results.tsv'), 'utf8'),
      `commit\tval_loss\tstatus\tdescription\n${run.baseCommit.slice(0, 7)}\t2.500000\tkeep\tbaseline\n`,
    );
  });
});

describe('record of a cancelled experiment', () => {
  it('sets its candidate aside under cancelled/<n>, so the same edit is not "tried already"; a retry is a no-op', async () => {
    const repo = await makeFakeTarget();
    const run = await prepared(repo, 'c');
    const candidate = await proposeCandidate(firstProposal(repo, 'c', run));
    const record: ExperimentRecord = {
      n: 1,
      parent: run.baseCommit,
      commit: candidate.commit,
      description: candidate.description,
      status: 'cancelled',
      reason: 'cancelled by pause --now',
      trainSeconds: 0,
      startedAt: 0,
      finishedAt: 1,
    };
    // Scheduled by older workflow code (no tag: the run directory's name is the tag), then retried.
    const input = { repo, runDir: run.runDir, branch: run.branch, record, previousBest: run.baseCommit };
    await recordExperiment(input);
    await recordExperiment({ ...input, tag: 'c' });
    assert.equal(await git(repo, ['rev-parse', 'refs/autoresearch/c/cancelled/1']), candidate.commit);
    assert.equal(await git(repo, ['for-each-ref', 'refs/autoresearch/c/exp/1']), '');
    // The same number proposed with the same seed draws the same edit, which is no longer refused.
    const again = await proposeCandidate({ ...firstProposal(repo, 'c', run), n: 1 });
    const tree = (commit: string) => git(repo, ['rev-parse', `${commit}^{tree}`]);
    assert.equal(await tree(again.commit), await tree(candidate.commit));
  });
});

describe('training, retried', () => {
  it('never runs a finished training again: a retry after the worker died past its end resumes from there', async () => {
    // train.py counts its own completed runs in a file outside the repo.
    const ledger = path.join(mkdtempSync(path.join(signalsDir(), 'ledger-')), 'runs');
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
    await git(path.join(slotDir(path.join(repo, '.git'), 'gpu0'), 'worktree'), [
      'checkout',
      '-q',
      '--detach',
      other,
    ]);
    await env().run(trainCandidate, input);
    assert.equal(readFileSync(ledger, 'utf8'), 'done\ndone\n');
  });
});

describe('training, one after the other in a slot', () => {
  it("starts the next training under a supervisor started while the last one trained, with none of the worker's secrets", async () => {
    // train.py notes how long its supervisor had been running when it started, and whether the
    // supervisor's environment holds the worker's API key (unsandboxed, /proc shows it).
    const ledger = path.join(mkdtempSync(path.join(signalsDir(), 'ahead-')), 'supervisors');
    const note = `
def _supervisor():
    pid = os.getppid()
    while pid > 1:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        if b"supervisor.js" in open(f"/proc/{pid}/cmdline", "rb").read():
            now = float(open("/proc/uptime").read().split()[0]) * os.sysconf("SC_CLK_TCK")
            age_ms = (now - int(fields[19])) * 1000 / os.sysconf("SC_CLK_TCK")
            secret = b"sk-ant-worker-secret" in open(f"/proc/{pid}/environ", "rb").read()
            return f"{age_ms:.0f} {secret}"
        pid = int(fields[1])
    return "none"
open(${JSON.stringify(ledger)}, "a").write(_supervisor() + "\\n")
`;
    const repo = await makeFakeTarget({ extra: note, sleepSeconds: 0.1 });
    const run = await prepared(repo, 'ahead');
    const saved = process.env.ANTHROPIC_API_KEY;
    process.env.ANTHROPIC_API_KEY = 'sk-ant-worker-secret';
    try {
      const { trainCandidate } = createTrainActivities({ slot: 'gpu0', sandbox: false });
      const train = (n: number) =>
        new MockActivityEnvironment({ heartbeatTimeoutMs: 30_000 }).run(trainCandidate, {
          repo,
          tag: 'ahead',
          n,
          commit: run.baseCommit,
          config: run.config,
        });
      await train(0);
      // The workflow deciding, the next proposal coming: the slot is idle for a while.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await train(1);
    } finally {
      if (saved === undefined) delete process.env.ANTHROPIC_API_KEY;
      else process.env.ANTHROPIC_API_KEY = saved;
    }
    const [first, second] = readFileSync(ledger, 'utf8').trim().split('\n');
    assert.equal(first?.split(' ')[1], 'False', "the first supervisor's environment holds no secret");
    const [age, secret] = (second ?? '').split(' ');
    assert.equal(secret, 'False', 'the supervisor started ahead holds no secret');
    assert.ok(
      Number(age) >= 2500,
      `the second training's supervisor was running for ${age} ms when it started: it was started for it, not ahead`,
    );
  });
});

describe('training, scored by its worker', () => {
  it("gives the evaluate step's verdict with the outcome when handed the frozen blobs, a changed frozen file included", async () => {
    const repo = await makeFakeTarget();
    const run = await prepared(repo, 'scored');
    const { trainCandidate } = createTrainActivities({ slot: 'gpu0' });
    const train = (n: number, commit: string, frozenBlobs?: Record<string, string>) =>
      new MockActivityEnvironment({ heartbeatTimeoutMs: 30_000 }).run(trainCandidate, {
        repo,
        tag: 'scored',
        n,
        commit,
        config: run.config,
        ...(frozenBlobs ? { frozenBlobs } : {}),
      }) as Promise<TrainingOutcome>;
    const evaluated = (commit: string, outcome: TrainingOutcome) =>
      evaluateCandidate({ repo, commit, config: run.config, frozenBlobs: run.frozenBlobs, outcome });

    const older = await train(0, run.baseCommit);
    assert.equal(older.evaluation, undefined, 'without the frozen blobs (an older workflow), no verdict');
    const baseline = await train(1, run.baseCommit, run.frozenBlobs);
    assert.deepEqual(baseline.evaluation, { status: 'ok', metric: 0.18, memoryGb: 1.5 });
    const { evaluation, ...outcome } = baseline;
    assert.deepEqual(evaluation, await evaluated(run.baseCommit, outcome));

    const git = await Repo.open(repo);
    const cheat = await git.commitTree(
      await git.writeTree(run.baseCommit, {
        'prepare.py': '# frozen: data and evaluation\nEVAL_TOKENS = 1\n',
      }),
      run.baseCommit,
      'fewer evaluation tokens',
    );
    const cheated = await train(2, cheat, run.frozenBlobs);
    assert.deepEqual(cheated.evaluation, {
      status: 'invalid',
      reason: 'frozen file changed in the candidate: prepare.py',
    });
  });
});

describe('training, when its worker dies as it ends', () => {
  it('lets the training finish, and a retry takes its outcome without training it again', async () => {
    const dir = mkdtempSync(path.join(signalsDir(), 'dying-'));
    const ledger = path.join(dir, 'runs');
    const dieNow = path.join(dir, 'die-now');
    // The worker dies while train.py is in its last moments; atexit counts the trainings that end on their own.
    const extra = [
      'import atexit',
      `atexit.register(lambda: open(${JSON.stringify(ledger)}, "a").write("done\\n"))`,
      `open(${JSON.stringify(dieNow)}, "w").close()`,
      'time.sleep(0.3)',
    ].join('\n');
    const repo = await makeFakeTarget({ extra });
    const run = await prepared(repo, 'dying');
    const input = { repo, tag: 'dying', n: 0, commit: run.baseCommit, config: run.config };
    const worker = spawn(
      process.execPath,
      ['--import', 'tsx', TRAIN_THEN_DIE, JSON.stringify(input), dieNow],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    const [, signal] = (await once(worker, 'exit')) as [number | null, string | null];
    assert.equal(signal, 'SIGKILL', 'the worker died before its training ended');
    const pidFile = path.join(slotDir(path.join(repo, '.git'), 'gpu0'), 'training.pid');
    const pgid = Number(readFileSync(pidFile, 'utf8'));
    await waitFor('the dead worker’s training to be gone', () =>
      runningInGroup(pgid).length ? undefined : true,
    );
    assert.equal(readFileSync(ledger, 'utf8'), 'done\n', 'the training ran to its end, its worker gone');

    const { trainCandidate } = createTrainActivities({ slot: 'gpu0' });
    const retried: TrainingOutcome = await new MockActivityEnvironment({ heartbeatTimeoutMs: 30_000 }).run(
      trainCandidate,
      input,
    );
    assert.equal(readFileSync(ledger, 'utf8'), 'done\n', 'the retry did not train it again');
    assert.equal(retried.exitCode, 0);
    assert.equal(Number(retried.metricText), 0.18, 'its metric is the one the training printed');
  });
});

describe('a slot set-up that is slow', () => {
  it("is killed at the target's own set-up timeout, and reported as a slow set-up, not a broken target", async () => {
    const repo = await makeFakeTarget();
    const run = await prepared(repo, 'slowsetup');
    // A set-up far longer than its timeout (the kill, not the sleep, ends it).
    const config = {
      ...run.config,
      train: { ...run.config.train, setup: ['sleep 120'], setupTimeoutSeconds: 1 },
    };
    const { trainCandidate } = createTrainActivities({ slot: 'gpu0' });
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 30_000 });
    const outcome: TrainingOutcome = await env.run(trainCandidate, {
      repo,
      tag: 'slowsetup',
      n: 0,
      commit: run.baseCommit,
      config,
    });
    assert.ok(outcome.setupFailed && outcome.timedOut, `the set-up was killed: ${JSON.stringify(outcome)}`);
    const { status, reason } = scoreOutcome(outcome, config);
    assert.equal(status, 'crash');
    assert.match(reason!, /the set-up \(sleep 120\) did not finish within its 1s timeout/);
    assert.match(reason!, /setup_timeout_seconds/);
  });
});

describe('training, for another run of the tag', () => {
  it("never takes an earlier run's saved outcome for its own (a training clone keeps the run directory of a reused tag)", async () => {
    const ledger = path.join(mkdtempSync(path.join(signalsDir(), 'ledger-')), 'runs');
    const repo = await makeFakeTarget({ extra: `open(${JSON.stringify(ledger)}, "a").write("done\\n")` });
    const run = await prepared(repo, 'reused');
    const { trainCandidate } = createTrainActivities({ slot: 'gpu0' });
    const input = { repo, tag: 'reused', n: 0, commit: run.baseCommit, config: run.config };
    const env = (runId: string) =>
      new MockActivityEnvironment({
        workflowExecution: { workflowId: 'autoresearch-reused', runId },
        heartbeatTimeoutMs: 30_000,
      });
    await env('run-1').run(trainCandidate, input);
    await env('run-1').run(trainCandidate, input); // a retry of the same run: its saved outcome
    assert.equal(readFileSync(ledger, 'utf8'), 'done\n');
    // The same baseline commit in a new run of the tag, where the old run directory is still there.
    await env('run-2').run(trainCandidate, input);
    assert.equal(readFileSync(ledger, 'utf8'), 'done\ndone\n', 'the new run trained its baseline');
    rmSync(path.join(run.runDir, 'logs/exp-0000.result.json'));
    await env('run-3').run(trainCandidate, input);
    assert.equal(readFileSync(ledger, 'utf8'), 'done\ndone\ndone\n', 'nor is the trained marker taken');
  });
});

describe('training, one after another in a slot', () => {
  it("scores each experiment on what its own training wrote: a previous one's ignored output is gone", async () => {
    // train.py saves its "model" to an ignored file the frozen evaluation scores; with SAVE = 0 it exits 0
    // without saving. The set-up's environment (.venv, declared in setup_outputs) is kept; the set-up
    // counts its runs in a file outside the repo.
    const ledger = path.join(mkdtempSync(path.join(signalsDir(), 'ledger-')), 'setups');
    const train = (save: number) =>
      `import os\nSAVE = ${save}  # whether to save the model\n` +
      'assert os.path.exists(".venv/ready"), "the set-up\'s environment is gone"\n' +
      'os.makedirs("out", exist_ok=True)\nopen("out/scratch.bin", "w").write("x")\n' +
      'if SAVE:\n    open("checkpoint.txt", "w").write("0.750000")\n';
    const repo = await makeTarget({
      'train.py': train(1),
      'evaluate.py':
        'import os, sys\nif not os.path.exists("checkpoint.txt"):\n    sys.exit("FAIL: no checkpoint.txt")\n' +
        'print("---")\nprint("val_bpb: " + open("checkpoint.txt").read())\n',
      'program.md': '# program\n',
      '.gitignore': 'checkpoint.txt\nout/\n.venv/\n',
      'autoresearch.toml':
        '[train]\ncommand = "python3 train.py"\n' +
        `setup = ["mkdir -p .venv && touch .venv/ready && echo setup >> ${JSON.stringify(ledger).replace(/"/g, "'")}"]\n` +
        'setup_outputs = [".venv"]\ntimeout_seconds = 60\n' +
        '[eval]\ncommand = "python3 evaluate.py"\n[files]\neditable = ["train.py"]\nfrozen = ["evaluate.py"]\n' +
        signalsSandboxToml(),
    });
    const run = await prepared(repo, 'clean');
    const { trainCandidate } = createTrainActivities({ slot: 'gpu0' });
    const env = () => new MockActivityEnvironment({ heartbeatTimeoutMs: 30_000 });
    const trainAndScore = async (n: number, commit: string) => {
      const outcome: TrainingOutcome = await env().run(trainCandidate, {
        repo,
        tag: 'clean',
        n,
        commit,
        config: run.config,
      });
      return evaluateCandidate({ repo, commit, config: run.config, frozenBlobs: run.frozenBlobs, outcome });
    };

    const baseline = await trainAndScore(0, run.baseCommit);
    assert.equal(baseline.status, 'ok', JSON.stringify(baseline));
    assert.equal(baseline.metric, 0.75);
    const repo2 = await Repo.open(repo);
    const noSave = await repo2.commitTree(
      await repo2.writeTree(run.baseCommit, { 'train.py': train(0) }),
      run.baseCommit,
      'SAVE = 0',
    );
    const next = await trainAndScore(1, noSave);
    assert.equal(next.status, 'crash', `experiment 1 saved nothing, yet: ${JSON.stringify(next)}`);
    assert.match(next.reason ?? '', /no checkpoint\.txt/);
    assert.equal(readFileSync(ledger, 'utf8'), 'setup\n', 'the set-up ran once: its environment was kept');
    const worktree = path.join(slotDir(path.join(repo, '.git'), 'gpu0'), 'worktree');
    assert.equal(existsSync(path.join(worktree, 'out')), false, "the training's ignored output is gone");
    assert.equal(existsSync(path.join(worktree, '.venv/ready')), true);
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

  it('leaves the exit note only for a command that exits 0 on its own, not one stopped or failed', async () => {
    const dir = tmp();
    const exits = async (command: string, timeoutSeconds = 60) => {
      const file = path.join(dir, `note-${Math.random().toString(36).slice(2)}`);
      const result = await runSupervised({
        command,
        cwd: dir,
        env: process.env,
        logPath: path.join(dir, 'log'),
        timeoutSeconds,
        pidFile: path.join(dir, 'pid'),
        exitNote: { file, text: 'signed in advance' },
      });
      return { result, note: existsSync(file) ? readFileSync(file, 'utf8') : null };
    };
    assert.equal((await exits('echo done')).note, 'signed in advance');
    assert.equal((await exits('exit 3')).note, null, 'a failed command');
    // It takes the worker's SIGTERM at the timeout and exits 0: stopped, not ended on its own.
    const stopped = await exits("trap 'exit 0' TERM; sleep 30 & wait", 1);
    assert.equal(stopped.result.timedOut, true);
    assert.equal(stopped.result.exitCode, 0);
    assert.equal(stopped.note, null, 'a command stopped at the timeout');
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
