// Bad input, catalogued (docs/ARCHITECTURE.md, invariant 6): every case gives a message that names the
// problem and the fix, and loses nothing: the user's checkout is untouched, and a run that started either
// goes on (the experiment recorded once, with its reason) or ends cleanly. Cases are numbered as in the
// report.
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { startRun, workflowIdFor, type StartRunRequest } from '../client';
import { Repo } from '../store/git';
import { experimentLogPath, slotsRoot, readRecords } from '../store/runDirectory';
import { temporal as runTemporal } from './support/commandLines';
import { validateEdit } from '../proposers/editGate';
import { isTargetError } from '../common/errors';
import { parseConfigText } from '../target/config';
import type { ExperimentRecord, RunSummary, TargetConfig } from '../common/types';
import { statusQuery } from '../workflows/messages';
import { git, makeFakeTarget, makeGate, signalsDir, signalsSandboxToml } from './support/fakeTarget';
import { assertRunInvariants, checkoutState } from './support/invariants';
import { pathWithout, runningNamed, trainingProcesses, withPath } from './support/processes';
import { useHarness } from './support/temporal';
import { waitFor } from './support/waitFor';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../bin/autoresearch.js', import.meta.url));
const tmp = (prefix: string) => mkdtempSync(path.join(tmpdir(), `ar-bad-${prefix}-`));

/** Everything of the user's that a refused start must leave as it was. */
async function userState(repo: string) {
  return {
    ...(await checkoutState(repo)),
    status: await git(repo, ['status', '--porcelain', '--untracked-files=all']),
    refs: await git(repo, ['for-each-ref', '--format=%(refname) %(objectname)']),
  };
}

/** A target whose committed autoresearch.toml (or another file) is replaced, committed as the user would. */
async function targetWith(
  files: Record<string, string | null>,
  options: Parameters<typeof makeFakeTarget>[0] = {},
): Promise<string> {
  const repo = await makeFakeTarget(options);
  for (const [file, content] of Object.entries(files)) {
    if (content === null) rmSync(path.join(repo, file));
    else writeFileSync(path.join(repo, file), content);
  }
  await git(repo, ['add', '-A']);
  await git(repo, ['commit', '-qm', 'the user changes the target']);
  return repo;
}

describe('bad input', () => {
  const h = useHarness('bad-input');
  let tags = 0;

  /** The environment that points the project's CLI at this harness's server and task queues. */
  const cliQueues = () => ({
    TEMPORAL_ADDRESS: h.address,
    AUTORESEARCH_TASK_QUEUE: h.queues.taskQueue,
    AUTORESEARCH_TRAIN_TASK_QUEUE: h.queues.trainTaskQueue,
  });

  /** `start` refuses with `expected` (problem and fix); the checkout is as it was; no run exists. */
  async function refusedAtStart(
    repo: string,
    expected: RegExp,
    request: Partial<StartRunRequest> = {},
  ): Promise<void> {
    const tag = request.tag ?? `bad-${++tags}`;
    // A repository without commits has no checkout to compare (nor does a missing one).
    const before = await userState(repo).catch(() => null);
    await assert.rejects(startRun(h.client, { repo, ...h.queues, ...request, tag }), expected);
    if (before) assert.deepEqual(await userState(repo), before, 'the checkout is untouched');
    if (request.tag === undefined)
      await assert.rejects(
        h.client.workflow.getHandle(workflowIdFor(tag)).describe(),
        WorkflowNotFoundError,
        'no run was started',
      );
  }

  describe('the target, at start', () => {
    it('1 repo missing', () =>
      refusedAtStart('/nonexistent/target', /does not exist: pass the path of a git repository/));

    it('2 not a git repository (and a repository without commits)', async () => {
      const dir = tmp('plain');
      writeFileSync(path.join(dir, 'train.py'), 'x = 1\n');
      await refusedAtStart(dir, /not a git repository: run `git init && git add -A && git commit/);
      assert.deepEqual(readdirSync(dir), ['train.py']);
      await git(dir, ['init', '-q']);
      await refusedAtStart(dir, /no commits yet: commit the target's files first/);
    });

    it('3 dirty working tree: refused, the uncommitted edit is still there', async () => {
      const repo = await makeFakeTarget();
      writeFileSync(path.join(repo, 'train.py'), 'LEARNING_RATE = 1\n');
      await refusedAtStart(repo, /uncommitted changes \(train\.py\).*commit or stash them first/);
      assert.equal(readFileSync(path.join(repo, 'train.py'), 'utf8'), 'LEARNING_RATE = 1\n');
    });

    it('4 detached HEAD is allowed: the baseline is the commit checked out, and HEAD stays detached', async () => {
      const repo = await makeFakeTarget();
      const first = await git(repo, ['rev-parse', 'HEAD']);
      await git(repo, ['commit', '-q', '--allow-empty', '-m', 'later work']);
      await git(repo, ['checkout', '-q', '--detach', first]);
      const checkout = await checkoutState(repo);
      assert.equal(checkout.branch, 'HEAD');
      const { stdout } = await run(
        process.execPath,
        [CLI, 'start', repo, '--tag', 'bad-detached', '--max-experiments', '1', '--proposer', 'mutate'],
        { env: { ...process.env, ...cliQueues() } },
      );
      assert.match(stdout, new RegExp(`baseline: ${first.slice(0, 7)}, the detached HEAD in ${repo}`));
      const handle = h.client.workflow.getHandle(workflowIdFor('bad-detached'));
      const summary = (await handle.result()) as RunSummary;
      const records = await assertRunInvariants(repo, 'bad-detached', summary, checkout);
      assert.equal(records[0]!.commit, first, 'the baseline is the detached commit, not a branch tip');
    });

    it("5 the run's branch exists already (the user's own)", async () => {
      const repo = await makeFakeTarget();
      await git(repo, ['branch', 'autoresearch/mine']);
      await refusedAtStart(
        repo,
        /Branch autoresearch\/mine already exists.*new tag \(e\.g\. --tag mineb\), or delete the old branch with `git branch -D/,
        { tag: 'mine' },
      );
    });

    it('6 a tag that cannot name a branch', async () => {
      await refusedAtStart(await makeFakeTarget(), /Tag "no good!" is not usable.*e\.g\. mar5/, {
        tag: 'no good!',
      });
    });

    it('7 --timeout not longer than --budget', async () => {
      await refusedAtStart(
        await makeFakeTarget(),
        /--timeout \(5s\) must be longer than the budget \(10s\)/,
        {
          budgetSeconds: 10,
          timeoutSeconds: 5,
        },
      );
    });

    it('7a a keep rule that does not exist, or noise-aware with nothing to measure the noise', async () => {
      const repo = await makeFakeTarget();
      await refusedAtStart(repo, /--keep-rule is strict or noise-aware; got lenient/, {
        keepRule: 'lenient' as never,
      });
      await refusedAtStart(
        repo,
        /--keep-rule noise-aware needs the noise measured: leave --noise-runs at 3/,
        {
          keepRule: 'noise-aware',
          noiseRuns: 1,
        },
      );
      await refusedAtStart(repo, /--noise-margin takes how many standard errors .* got 0/, {
        noiseMargin: 0,
      });
      await refusedAtStart(repo, /--confirm-runs takes .* 0 to 16; got 1\.5/, { confirmRuns: 1.5 });
    });
  });

  describe('the target config (autoresearch.toml), at start', () => {
    const TOML = 'autoresearch.toml';
    const cases: [string, Record<string, string | null>, RegExp][] = [
      ['8 not TOML', { [TOML]: '[train\n' }, /not valid TOML: .*Fix the syntax/],
      [
        '9 unknown section',
        { [TOML]: '[trian]\ncommand = "x"\n' },
        /Unrecognized key: "trian".*Known fields: \[train\]/,
      ],
      [
        '10 unknown key',
        { [TOML]: '[train]\ncomand = "x"\n' },
        /train: Unrecognized key: "comand".*Known fields: \[train\] command/,
      ],
      [
        '11 wrong type',
        { [TOML]: '[train]\ntimeout_seconds = "ten"\n' },
        /train\.timeout_seconds: .*expected number.*Known fields/,
      ],
      [
        '12 negative timeout',
        { [TOML]: '[train]\ntimeout_seconds = -5\n' },
        /train\.timeout_seconds: .*>0.*Known fields/,
      ],
      [
        '13 budget not below the timeout',
        { [TOML]: '[train]\nbudget_seconds = 100\ntimeout_seconds = 50\n' },
        /train\.budget_seconds \(100\) must be below train\.timeout_seconds \(50\)/,
      ],
      ['14 empty command', { [TOML]: '[train]\ncommand = ""\n' }, /train\.command: .*>=1 characters/],
      ['15 setup of the wrong kind', { [TOML]: '[train]\nsetup = 5\n' }, /train\.setup: .*Known fields/],
      [
        '16 bad direction',
        { [TOML]: '[metric]\ndirection = "lower"\n' },
        /metric\.direction: .*"minimize"\|"maximize"/,
      ],
      [
        '17 metric name that is not a key',
        { [TOML]: '[metric]\nname = "val bpb"\n' },
        /metric\.name: must be a plain key such as val_bpb/,
      ],
      [
        '18 metric pattern that is not a regular expression',
        { [TOML]: '[metric]\npattern = "loss: ([0-9.]+"\n' },
        /metric\.pattern is not a valid regular expression \(.*Unterminated group/,
      ],
      [
        '19 metric pattern without a capture group',
        { [TOML]: '[metric]\npattern = "loss: [0-9.]+"\n' },
        /metric\.pattern needs one capture group around the number, e\.g\. "\^loss: \(\[0-9\.\]\+\)"/,
      ],
      [
        '20 an editable path outside the repository',
        { [TOML]: '[files]\neditable = ["/etc/passwd"]\n' },
        /files\.editable\.0: must be a path relative to the repository root/,
      ],
      [
        '21 no editable file',
        { [TOML]: '[files]\neditable = []\n' },
        /files\.editable: .*>=1 items.*Known fields/,
      ],
      [
        '22 a file both editable and frozen',
        { [TOML]: '[files]\neditable = ["train.py"]\nfrozen = ["train.py"]\n' },
        /train\.py is both editable and frozen; list it in one of them/,
      ],
      [
        '23 editable file missing',
        { [TOML]: '[files]\neditable = ["trainer.py"]\nfrozen = ["prepare.py"]\n' },
        /missing trainer\.py \(committed at HEAD\)\. Commit the files, or fix \[files\] in autoresearch\.toml/,
      ],
      [
        '24 frozen file missing',
        { 'prepare.py': null },
        /missing prepare\.py \(committed at HEAD\)\. Commit the files, or fix \[files\]/,
      ],
      [
        '25 no config, and not the karpathy/autoresearch layout',
        { [TOML]: null, 'program.md': null },
        /missing program\.md.*Add autoresearch\.toml naming your files/,
      ],
    ];
    for (const [name, files, expected] of cases)
      it(name, async () => refusedAtStart(await targetWith(files), expected));

    it('26 an editable file that is a symbolic link out of the repository', async () => {
      const outside = tmp('outside');
      writeFileSync(
        path.join(outside, 'train.py'),
        readFileSync(path.join(await makeFakeTarget(), 'train.py')),
      );
      const repo = await targetWith({ 'train.py': null });
      symlinkSync(path.join(outside, 'train.py'), path.join(repo, 'train.py'));
      await git(repo, ['add', '-A']);
      await git(repo, ['commit', '-qm', 'train.py lives elsewhere']);
      await refusedAtStart(
        repo,
        /train\.py is a symbolic link in the target \(to \/.*\/train\.py\).*must be regular files.*Replace the link with the file itself/,
      );
    });

    it('27 an editable file reached through a symbolic link to a directory out of the repository', async () => {
      const outside = tmp('outside-dir');
      writeFileSync(path.join(outside, 'x.py'), 'X = 1\n');
      const repo = await targetWith({
        [TOML]: '[files]\neditable = ["link/x.py"]\nfrozen = ["prepare.py"]\n',
      });
      symlinkSync(outside, path.join(repo, 'link'));
      await git(repo, ['add', '-A']);
      await git(repo, ['commit', '-qm', 'a link to elsewhere']);
      await refusedAtStart(
        repo,
        /link\/x\.py lies under link, which is a symbolic link in the target \(to \//,
      );
    });
  });

  describe('the edit gate (validateEdit), for any proposer', () => {
    let repo: string;
    let parent: string;
    let config: TargetConfig;
    let base: { repo: Repo; parent: string };
    const outside = tmp('gate-outside');
    before(async () => {
      repo = await makeFakeTarget();
      symlinkSync(outside, path.join(repo, 'link'));
      symlinkSync(path.join(outside, 'evil.py'), path.join(repo, 'alias.py'));
      await git(repo, ['add', '-A']);
      await git(repo, ['commit', '-qm', 'links']);
      parent = await git(repo, ['rev-parse', 'HEAD']);
      // As if the config named these (preflight refuses such a target; the gate does not rely on it).
      config = parseConfigText(
        '[files]\neditable = ["train.py", "link/x.py", "alias.py"]\nfrozen = ["prepare.py"]\n',
      );
      base = { repo: await Repo.open(repo), parent };
    });
    after(async () => {
      assert.equal(await git(repo, ['status', '--porcelain']), '', 'the gate never touches the checkout');
      assert.deepEqual(readdirSync(outside), [], 'nothing was written outside the repository');
    });
    const refuses = (files: Record<string, string>, expected: RegExp) =>
      assert.rejects(validateEdit(config, files, base), expected);

    it('28 a path outside the repository (..)', () =>
      refuses(
        { '../x.py': 'x = 1\n' },
        /"\.\.\/x\.py", a path with "\.\." that leaves the repository: name files relative to the repository root, e\.g\. train\.py/,
      ));
    it('29 an absolute path', () =>
      refuses({ '/etc/passwd': 'root\n' }, /"\/etc\/passwd", an absolute path: name files relative/));
    it('30 a path that is not plain (./train.py)', () =>
      refuses({ './train.py': 'x = 1\n' }, /not a plain path.*relative to the repository root/));
    it('31 an edit through a symbolic link to a directory out of the repository', () =>
      refuses(
        { 'link/x.py': 'x = 1\n' },
        /writes link\/x\.py through link, a symbolic link in the parent commit \(to \/.*never writes through links/,
      ));
    it('32 an editable file that is itself a symbolic link out of the repository', () =>
      refuses(
        { 'alias.py': 'x = 1\n' },
        /writes alias\.py, a symbolic link in the parent commit.*edit regular files only/,
      ));
    it('33 a new file', () =>
      refuses(
        { 'helper.py': 'x = 1\n' },
        /creates helper\.py, a new file, but only the editable files may change \(editable: train\.py.*put the code in one of them/,
      ));
    it('34 a frozen file', () =>
      refuses(
        { 'prepare.py': 'EVAL_TOKENS = 1\n' },
        /touches prepare\.py, which is not editable \(editable: train\.py/,
      ));
    it('35 an empty edit', () =>
      refuses({}, /changes no file: change at least one editable file \(train\.py/));
    it('36 an edit that empties a file', () =>
      refuses({ 'train.py': ' \n' }, /leaves train\.py empty: give the whole file's new contents/));
    it('37 code that does not parse', () =>
      refuses({ 'train.py': 'def f(:\n' }, /train\.py does not parse: .*SyntaxError.*fix the syntax/));
    it('37b no python3 to check that the code parses: a target error naming it, never a syntax error', () =>
      withPath(pathWithout(/^python/), () =>
        assert.rejects(validateEdit(config, { 'train.py': 'x = 1\n' }, base), (err: Error) => {
          assert.ok(isTargetError(err), `a TargetError, not ${err.constructor.name}: ${err.message}`);
          assert.match(err.message, /could not run python3 to check that train\.py parses/);
          assert.match(err.message, /ENOENT/, 'the spawn error is kept');
          assert.match(err.message, /install Python 3.*PATH/);
          assert.doesNotMatch(err.message, /fix the syntax/);
          return true;
        }),
      ));
    it('37c a python3 that is not executable: the same target error, with the spawn error (EACCES)', () => {
      const dir = pathWithout(/^python/);
      writeFileSync(path.join(dir, 'python3'), '#!/bin/sh\n', { mode: 0o644 });
      return withPath(dir, () =>
        assert.rejects(validateEdit(config, { 'train.py': 'x = 1\n' }, base), (err: Error) => {
          assert.ok(isTargetError(err), `a TargetError, not ${err.constructor.name}: ${err.message}`);
          assert.match(
            err.message,
            /could not run python3 to check that train\.py parses \(spawn python3 EACCES\)/,
          );
          return true;
        }),
      );
    });
    it("37d a python3 that is a version manager's shim (pyenv's starts some thirty processes) is run once per PATH, not once per edit", async () => {
      const dir = pathWithout(/^python/);
      const runs = path.join(tmp('gate-shim'), 'runs');
      const real = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' });
      writeFileSync(
        path.join(dir, 'python3'),
        `#!/bin/sh\necho run >> ${JSON.stringify(runs)}\nexec ${JSON.stringify(real.trim())} "$@"\n`,
        { mode: 0o755 },
      );
      await withPath(dir, async () => {
        for (const k of [1, 2, 3, 3]) await validateEdit(config, { 'train.py': `x = ${k}\n` }, base);
        await assert.rejects(
          validateEdit(config, { 'train.py': 'def f(:\n' }, base),
          /train\.py does not parse: .*SyntaxError.*fix the syntax/,
        );
      });
      assert.equal(
        readFileSync(runs, 'utf8'),
        'run\n',
        'the shim ran once, to say which interpreter it runs',
      );
    });
    it('the gate passes a plain edit of an editable file', () =>
      validateEdit(config, { 'train.py': 'x = 1\n' }, base));
  });

  describe('during a run: each experiment does one wrong thing; the run records it and goes on', () => {
    const TAG = 'bad-run';
    const MAX_LOG = 1_000_000;
    const outside = tmp('run-outside');
    const linked = tmp('run-linked');
    // The process the hung training spawns, found by its name: in the sandbox's PID namespace its pid
    // means nothing outside.
    const hungChild = `ar-bad-run-hung-${process.pid}-${Date.now()}`;
    // A stand-in coding agent that makes experiment n's mistake (the command proposer reads back what it
    // changed in its worktree, as it would from Claude Code).
    const agent = `set -e
say() { echo "$1" > "$AUTORESEARCH_DESCRIPTION_FILE"; }
mode() { sed -i "s/^MODE = \\"ok\\"/MODE = \\"$1\\"/" train.py; say "$2"; }
case "$AUTORESEARCH_EXPERIMENT" in
  1) sed -i 's/^LEARNING_RATE = 0.01 /LEARNING_RATE = float("nan") /' train.py; say "NaN metric" ;;
  2) sed -i 's/^LEARNING_RATE = 0.01 /LEARNING_RATE = float("inf") /' train.py; say "infinite metric" ;;
  3) mode no-metric "no metric line" ;;
  4) mode exit "non-zero exit" ;;
  5) mode hang "hangs past the hard timeout" ;;
  6) mode flood "a flood of output" ;;
  7) echo "EVAL_TOKENS = 1" >> prepare.py; say "edit the frozen prepare.py" ;;
  8) echo "X = 1" > helper.py; say "add a new file" ;;
  9) ln -sf ${outside}/evil.py train.py; say "make train.py a link out of the repo" ;;
  10) echo "X = 1" > link/x.py; say "write through a link out of the repo" ;;
  11) say "change nothing" ;;
  12) sed -i 's/^LEARNING_RATE = 0.01 /LEARNING_RATE = float("nan") /' train.py; say "repeat experiment 1" ;;
  13) : > train.py; say "empty train.py" ;;
  14) rm train.py; say "delete train.py" ;;
  15) echo "def broken(:" >> train.py; say "code that does not parse" ;;
  16) echo "agent: rate limited, giving up"; exit 5 ;;
  17) sed -i 's/^LEARNING_RATE = 0.01 /LEARNING_RATE = 0.015 /' train.py
      git add -A && git -c user.name=agent -c user.email=agent@localhost commit -qm "raise LR"
      say "raise LR to 0.015, committed by the agent" ;;
esac
`;
    const extra = `MODE = "ok"  # the stand-in agent sets what goes wrong
if MODE == "no-metric":
    sys.exit(0)
if MODE == "exit":
    print("RuntimeError: CUDA out of memory")
    sys.exit(3)
if MODE == "hang":
    import subprocess
    child = subprocess.Popen(["sh", "-c", "exec -a ${hungChild} sleep 300"])
    print("spawned the child", flush=True)
    time.sleep(300)
if MODE == "flood":
    chunk = ("x" * 1023 + "\\n") * 1024
    for _ in range(100):
        sys.stdout.write(chunk)
`;
    const expected: [number, string, ExperimentRecord['status'], RegExp | null][] = [
      [1, 'NaN metric', 'invalid', /val_bpb is nan, not a finite number/],
      [2, 'infinite metric', 'invalid', /val_bpb is inf, not a finite number/],
      [3, 'no metric line (exit 0)', 'crash', /no "val_bpb:" line in the (training )?output/],
      [4, 'non-zero exit', 'crash', /exit 3: RuntimeError: CUDA out of memory/],
      [5, 'training hangs past the hard timeout', 'timeout', /killed after the 5s hard timeout/],
      [6, 'a flood of output (100 MB)', 'discard', null],
      [
        7,
        'an edit to a frozen file',
        'invalid',
        /changed prepare\.py, which is not editable \(editable: train\.py\)/,
      ],
      [
        8,
        'an edit adding a new file',
        'invalid',
        /added helper\.py, a new file, but only the editable files may change \(editable: train\.py\); put the code in one of them/,
      ],
      [
        9,
        'an editable file turned into a symbolic link out of the repository',
        'invalid',
        /turned train\.py into a symbolic link \(train\.py -> \/.*evil\.py\): autoresearch commits file contents, never links; edit the file in place/,
      ],
      [
        10,
        'a write through a symbolic link out of the repository',
        'invalid',
        /made no change to the editable files \(train\.py\) in its worktree; it must edit them in place there \(writes elsewhere, or through a symbolic link, do not count\)/,
      ],
      [11, 'an empty edit', 'invalid', /made no change to the editable files/],
      [
        12,
        'a duplicate edit (already tried)',
        'invalid',
        /already tried in this run; propose a different idea/,
      ],
      [
        13,
        'an edit that empties the file',
        'invalid',
        /leaves train\.py empty: give the whole file's new contents/,
      ],
      [
        14,
        'an edit that deletes the file',
        'invalid',
        /deleted train\.py: an editable file must stay; edit it in place/,
      ],
      [15, 'an edit that does not parse', 'invalid', /train\.py does not parse: .*fix the syntax/],
      [
        16,
        'the proposer command fails',
        'invalid',
        /proposer command failed \(exit 5\): agent: rate limited, giving up \(its log: .*command\.log\)/,
      ],
      [17, 'an agent that commits its edit (accepted, read against the parent)', 'keep', null],
    ];
    let repo: string;
    let records: ExperimentRecord[];
    let summary: RunSummary;
    let checkout: Awaited<ReturnType<typeof checkoutState>>;
    const savedCap = process.env.AUTORESEARCH_MAX_LOG_BYTES;

    before(async () => {
      process.env.AUTORESEARCH_MAX_LOG_BYTES = String(MAX_LOG); // read by the in-process training worker
      writeFileSync(path.join(outside, 'evil.py'), 'print("---")\nprint("val_bpb: 0.000001")\n');
      repo = await makeFakeTarget({ extra, timeoutSeconds: 5 });
      symlinkSync(linked, path.join(repo, 'link'));
      await git(repo, ['add', '-A']);
      await git(repo, ['commit', '-qm', 'a link to elsewhere']);
      checkout = await checkoutState(repo);
      const agentFile = path.join(tmp('agent'), 'agent.sh');
      writeFileSync(agentFile, agent);
      const handle = await startRun(h.client, {
        repo,
        tag: TAG,
        proposer: 'command',
        command: { command: h.allowAgent(`bash ${agentFile}`), timeoutSeconds: 60 },
        maxExperiments: expected.length,
        ...h.queues,
      });
      summary = (await handle.result()) as RunSummary;
      records = await assertRunInvariants(repo, TAG, summary, checkout);
    });
    after(() => {
      if (savedCap === undefined) delete process.env.AUTORESEARCH_MAX_LOG_BYTES;
      else process.env.AUTORESEARCH_MAX_LOG_BYTES = savedCap;
    });

    for (const [n, name, status, reason] of expected)
      it(`${37 + n} ${name}: ${status}`, () => {
        const record = records[n]!;
        assert.equal(record.status, status, `${record.status}: ${record.reason}`);
        if (reason) assert.match(record.reason ?? '', reason);
        else assert.equal(record.reason, undefined);
        // A refused proposal makes no candidate and trains nothing (a non-finite metric was trained).
        if (status === 'invalid' && n > 2) assert.equal(record.commit, record.parent, 'nothing trained');
      });

    it('every experiment is recorded once, and the run ended at its limit', () => {
      assert.equal(summary.reason, 'max-experiments');
      assert.deepEqual(
        records.map((r) => r.n),
        [...Array(expected.length + 1).keys()],
      );
      assert.equal(summary.best?.n, 17);
    });

    it('the hung training was killed with its whole process group', () => {
      assert.match(
        readFileSync(experimentLogPath(path.join(repo, '.git/autoresearch/runs', TAG), 5), 'utf8'),
        /step 4/,
      );
      assert.deepEqual(runningNamed(hungChild), [], 'the process the training spawned is gone too');
      assert.match(records[5]!.logTail ?? '', /step 4/, 'the log tail is kept for the next proposal');
    });

    it('the flood: the log is capped, keeps its end, says what was dropped, and the metric was read', () => {
      const log = experimentLogPath(path.join(repo, '.git/autoresearch/runs', TAG), 6);
      const size = statSync(log).size;
      assert.ok(size < MAX_LOG + 256 * 1024 + 1024, `the log is ${size} bytes, not 100 MB`);
      const text = readFileSync(log, 'utf8');
      assert.match(
        text,
        /\[autoresearch: \d+ bytes of output dropped here: the log keeps the first 1000000 and the last \d+ bytes\. Print less, or raise AUTORESEARCH_MAX_LOG_BYTES on the worker\.\]/,
      );
      assert.match(text.slice(-200), /---\nval_bpb:\s+0\.180000\n/, 'the summary at the end survives');
      assert.equal(records[6]!.metric, records[0]!.metric, 'the metric was found (a tie, so discarded)');
    });

    it('nothing from outside the repository entered a candidate', async () => {
      assert.ok(existsSync(path.join(linked, 'x.py')), 'the agent did write through the link');
      const refs = await git(repo, ['for-each-ref', '--format=%(objectname)', `refs/autoresearch/${TAG}/`]);
      for (const commit of refs.split('\n')) {
        const files = await git(repo, ['ls-tree', '-r', '--name-only', commit]);
        assert.deepEqual(files.split('\n').sort(), [
          'autoresearch.toml',
          'link',
          'prepare.py',
          'program.md',
          'train.py',
        ]);
        assert.equal(
          await git(repo, ['rev-parse', `${commit}:prepare.py`]),
          await git(repo, ['rev-parse', 'HEAD:prepare.py']),
        );
      }
    });
  });

  describe('set-up commands that fail', () => {
    it('55 on the baseline: the run ends with the reason, the fix and the set-up log; nothing else is lost', async () => {
      const repo = await targetWith({
        'autoresearch.toml':
          '[train]\ncommand = "python3 train.py"\nsetup = ["echo pip: could not resolve numpy; exit 4"]\n',
      });
      const checkout = await checkoutState(repo);
      const handle = await startRun(h.client, { repo, tag: 'bad-setup0', ...h.queues });
      await assert.rejects(handle.result(), (err: Error) => {
        assert.ok(err instanceof WorkflowFailedError);
        assert.match(
          err.cause?.message ?? '',
          /baseline did not produce a valid val_bpb \(crash: set-up failed \(exit 4\): pip: could not resolve numpy\)\. Fix the target.*log: .*setup\.log/,
        );
        return true;
      });
      const records = readRecords(path.join(repo, '.git/autoresearch/runs/bad-setup0'));
      assert.deepEqual(
        records.map((r) => [r.n, r.status]),
        [[0, 'crash']],
      );
      assert.deepEqual(await checkoutState(repo), checkout);
      assert.equal(await git(repo, ['status', '--porcelain', '--untracked-files=all']), '');
      assert.equal(await git(repo, ['rev-parse', 'autoresearch/bad-setup0']), checkout.head);
    });

    it('55b too slow for its timeout on the baseline: reported as a slow set-up with the field to raise, not "fix the target"', async () => {
      const repo = await targetWith({
        'autoresearch.toml':
          '[train]\ncommand = "python3 train.py"\nsetup = ["sleep 120"]\nsetup_timeout_seconds = 1\n',
      });
      const handle = await startRun(h.client, { repo, tag: 'slow-setup0', ...h.queues });
      await assert.rejects(handle.result(), (err: Error) => {
        assert.ok(err instanceof WorkflowFailedError);
        const message = err.cause?.message ?? '';
        assert.match(
          message,
          /crash: the set-up \(sleep 120\) did not finish within its 1s timeout and was killed: a slow set-up .*not a broken target; give it longer with \[train\] setup_timeout_seconds in autoresearch\.toml/,
        );
        assert.match(message, /Give the set-up longer and start a new run; log: .*setup\.log/);
        assert.doesNotMatch(message, /Fix the target/);
        return true;
      });
    });

    it('56 on a fresh slot later: that experiment is a crash, and the run goes on', async () => {
      const gate = makeGate();
      // In the folder the sandbox opens to the target: the set-up must see the flag the test leaves.
      const flag = path.join(mkdtempSync(path.join(signalsDir(), 'setup-flag-')), 'fail-once');
      const repo = await targetWith(
        {
          'autoresearch.toml':
            '[train]\ncommand = "python3 train.py"\n' +
            `setup = ["test ! -e ${flag} || { rm -f ${flag}; echo setup: No space left on device; exit 7; }"]\n` +
            signalsSandboxToml(),
        },
        { gate },
      );
      gate.release(); // the baseline
      const checkout = await checkoutState(repo);
      const handle = await startRun(h.client, {
        repo,
        tag: 'bad-setup',
        maxExperiments: 3,
        noiseRuns: 1,
        ...h.queues,
      });
      // Experiment 1 is set up and trains, held at the gate: the experiments after it set up after the
      // change below, however slow the machine.
      await waitFor('the baseline, and experiment 1 training past its set-up', async () =>
        (await handle.query(statusQuery)).experimentsDone >= 1 &&
        trainingProcesses(repo).some((pid) =>
          readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('train.py'),
        )
          ? true
          : undefined,
      );
      // As if the next experiment landed on a new machine, whose set-up fails once (a full disk).
      writeFileSync(flag, '');
      const slots = slotsRoot(path.join(repo, '.git'));
      for (const slot of readdirSync(slots)) rmSync(path.join(slots, slot, 'setup.json'), { force: true });
      gate.open();
      const summary = (await handle.result()) as RunSummary;
      const records = await assertRunInvariants(repo, 'bad-setup', summary, checkout);
      const crashed = records.filter((r) => r.status === 'crash');
      assert.equal(crashed.length, 1, records.map((r) => `${r.n} ${r.status} ${r.reason}`).join('\n'));
      assert.match(crashed[0]!.reason!, /set-up failed \(exit 7\): setup: No space left on device/);
      assert.equal(crashed[0]!.n, 2, 'the experiment after the change crashed, and one after it trained');
    });
  });

  describe('steering with bad arguments (the stock temporal CLI), and a tag already running', () => {
    const TAG = 'bad-steer';
    const id = workflowIdFor(TAG);
    let repo: string;
    let checkout: Awaited<ReturnType<typeof checkoutState>>;

    const temporal = (args: string[]) => runTemporal(h.address, args);
    const signal = (name: string, input?: string) =>
      temporal(['workflow', 'signal', '-w', id, '--name', name, ...(input ? ['--input', input] : [])]);
    const update = (name: string, input: string) =>
      temporal(['workflow', 'update', 'execute', '-w', id, '--name', name, '--input', input]);
    /** What the stock CLI printed when it refused (its log line, with the quotes unescaped). */
    const refusal = (sent: Promise<string>) =>
      sent.then(
        (out) => assert.fail(`not refused: ${out}`),
        (err: { stderr: string }) => err.stderr.replace(/\\"/g, '"'),
      );
    const status = () => h.client.workflow.getHandle(id).query(statusQuery);
    const phase = (wanted: string) =>
      waitFor(`phase ${wanted}`, async () => ((await status()).phase === wanted ? true : undefined));
    const moreThan = async (done: number) =>
      waitFor(`more than ${done} experiments`, async () =>
        (await status()).experimentsDone > done ? true : undefined,
      );

    before(async () => {
      repo = await makeFakeTarget({ sleepSeconds: 0.5 });
      checkout = await checkoutState(repo);
      await startRun(h.client, { repo, tag: TAG, ...h.queues });
      await moreThan(0);
    });

    it('57 pause with a string or a number for its options: it pauses (not --now), and resume goes on', async () => {
      await signal('pause', '"now"');
      await phase('paused');
      assert.equal((await status()).counts.cancelled, 0, '"now" is not {"now": true}: nothing was cancelled');
      const paused = (await status()).experimentsDone;
      await signal('resume', '5');
      await moreThan(paused);
      await signal('pause', '42');
      await phase('paused');
      await signal('resume', '{"please": true}');
      await moreThan((await status()).experimentsDone);
    });

    it('58 a signal name that does not exist changes nothing', async () => {
      await signal('pasue');
      await moreThan((await status()).experimentsDone);
      assert.equal((await status()).paused, false);
    });

    it('59 input that is not JSON is refused by the CLI, before it reaches the run', async () => {
      assert.match(await refusal(signal('pause', 'now')), /input #1 is not valid JSON/);
    });

    const refusals: [string, string, string, RegExp][] = [
      ['60', 'redirect', '5', /redirect takes one string: the note, e\.g\. "try a smaller model"/],
      ['61', 'redirect', '"   "', /redirect note is empty: pass the instruction text/],
      ['62', 'queue', '["use RMSNorm"]', /queue takes one string: the idea, e\.g\. "use RMSNorm"/],
      [
        '63',
        'queue',
        '"use RMSNorm"',
        /mutate proposer cannot read prose: queue one constant to set, e\.g\. queue "LEARNING_RATE=0\.01"/,
      ],
      ['64', 'limits', '"tomorrow"', /limits takes an object, e\.g\. \{"maxExperiments": 50/],
      ['65', 'limits', '[50]', /limits takes an object/],
      ['66', 'limits', '{}', /limits changes nothing: pass maxExperiments and\/or deadline/],
      ['67', 'limits', '{"hours": 3}', /limits knows maxExperiments and deadline, not hours/],
      [
        '68',
        'limits',
        '{"maxExperiments": "ten"}',
        /maxExperiments must be a whole number >= 0 \(or null for no limit\); got ten/,
      ],
      [
        '69',
        'limits',
        '{"deadline": "soon"}',
        /deadline must be an ISO date-time such as 2026-11-28T07:00:00Z; got soon/,
      ],
      ['70', 'lmits', '{"maxExperiments": 50}', /No registered handler for update: lmits/],
    ];
    for (const [n, name, input, expected] of refusals)
      it(`${n} update ${name} with ${input}: refused with the reason, not recorded`, async () => {
        assert.match(await refusal(update(name, input)), expected);
      });

    it('71 starting the same tag again while it runs', async () => {
      const cli = await run(process.execPath, [CLI, 'start', repo, '--tag', TAG], {
        env: { ...process.env, ...cliQueues() },
      }).catch((err: { stderr: string }) => err);
      assert.match(
        (cli as { stderr: string }).stderr,
        /A run with tag "bad-steer" is already running \(workflow autoresearch-bad-steer\): watch it with `autoresearch status --tag bad-steer`.*new --tag/,
      );
      await assert.rejects(
        startRun(h.client, { repo, tag: TAG, ...h.queues }),
        /Branch autoresearch\/bad-steer already exists.*holds the run with tag bad-steer.*may still be going.*new tag \(e\.g\. --tag bad-steerb\)/,
      );
    });

    it('the run survived all of it: nothing was recorded from the refusals, and stop ends it cleanly', async () => {
      const s = await status();
      assert.deepEqual(s.notes, []);
      assert.deepEqual(s.queue, []);
      assert.equal(s.maxExperiments, null);
      await signal('stop', '"please"');
      const summary = (await h.client.workflow.getHandle(id).result()) as RunSummary;
      assert.equal(summary.reason, 'stopped');
      await assertRunInvariants(repo, TAG, summary, checkout);
    });
  });
});
