// The first cases of the attack catalogue: hostile training commands run through the supervisor in the
// sandbox (real bubblewrap, real processes), each checked to be contained. The command plays train.py.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runSupervised } from '../training/runSupervised';
import { bubblewrap, checkSandbox, sandboxArgs, sandboxWanted } from '../training/sandbox';
import { AUTORESEARCH_CLI } from './support/commandLines';
import { git, makeTarget } from './support/fakeTarget';
import { isRunning, pathWithout, runningNamed, withPath } from './support/processes';

interface Place {
  root: string;
  worktree: string;
  records: string;
  home: string;
}

/** A worktree, a records directory beside it (as under .git), and a home holding a secret. */
function place(): Place {
  const root = mkdtempSync(path.join(tmpdir(), 'ar-sandbox-'));
  const worktree = path.join(root, 'worktree');
  const records = path.join(root, 'records');
  const home = path.join(root, 'home');
  mkdirSync(worktree);
  mkdirSync(records);
  mkdirSync(path.join(home, '.ssh'), { recursive: true });
  writeFileSync(path.join(home, '.ssh', 'id_ed25519'), 'PRIVATE-KEY-MATERIAL\n');
  writeFileSync(path.join(records, '000001.json'), '{"status":"discard"}\n');
  return { root, worktree, records, home };
}

async function train(p: Place, command: string, timeoutSeconds = 30) {
  const logPath = path.join(p.root, 'train.log');
  const result = await runSupervised({
    command,
    cwd: p.worktree,
    env: { PATH: process.env.PATH, HOME: p.home },
    logPath,
    timeoutSeconds,
    pidFile: path.join(p.root, 'training.pid'),
    sandbox: sandboxArgs({ worktree: p.worktree, home: p.home }),
  });
  return { ...result, log: readFileSync(logPath, 'utf8') };
}

describe('the training sandbox', () => {
  it('lets the training write its worktree and a scratch /tmp, and run python', async () => {
    const p = place();
    const scratch = `/tmp/ar-scratch-${process.pid}-${Date.now()}`;
    const run = await train(
      p,
      `echo ok > out.txt && echo scratch > ${scratch} && cat ${scratch} && python3 -c "print(6*7)"`,
    );
    assert.equal(run.exitCode, 0, run.log);
    assert.match(run.log, /scratch/);
    assert.match(run.log, /42/);
    assert.equal(readFileSync(path.join(p.worktree, 'out.txt'), 'utf8'), 'ok\n');
    assert.ok(!existsSync(scratch), "the sandbox's /tmp is its own, gone with it");
  });

  it("cannot read the worker's environment through /proc", async () => {
    const p = place();
    const run = await train(
      p,
      `cat /proc/${process.pid}/environ | tr '\\0' '\\n' | head -c 100000; echo; ls /proc`,
    );
    assert.doesNotMatch(run.log, /PATH=/, 'the worker process is not visible');
    // Only the sandbox's own processes: a handful of pids, not the machine's.
    const pids = run.log
      .split(/\s+/)
      .filter((w) => /^\d+$/.test(w))
      .map(Number);
    assert.ok(!pids.includes(process.pid), `the worker's pid ${process.pid} is not in the sandbox's /proc`);
  });

  it('cannot read a secret file in the home directory', async () => {
    const p = place();
    const run = await train(p, `cat ${p.home}/.ssh/id_ed25519; ls -a ${p.home}`);
    assert.doesNotMatch(run.log, /PRIVATE-KEY-MATERIAL/);
    assert.doesNotMatch(run.log, /^\.ssh$/m);
  });

  it("cannot write into the run's records, nor redirect the worktree's .git", async () => {
    const p = place();
    writeFileSync(path.join(p.worktree, '.git'), `gitdir: ${p.records}\n`);
    const run = await train(
      p,
      `echo '{"status":"keep","metric":0.1}' > ${p.records}/000001.json; ` +
        `echo forged > ${p.records}/000002.json; echo 'gitdir: /' > .git; true`,
    );
    assert.equal(run.exitCode, 0);
    assert.equal(readFileSync(path.join(p.records, '000001.json'), 'utf8'), '{"status":"discard"}\n');
    assert.deepEqual(readdirSync(p.records), ['000001.json']);
    assert.equal(readFileSync(path.join(p.worktree, '.git'), 'utf8'), `gitdir: ${p.records}\n`);
  });

  it('cannot open a socket to a server on the machine (no network)', async () => {
    const p = place();
    let connections = 0;
    const server = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const run = await train(
        p,
        `python3 -c "import socket; s=socket.create_connection(('127.0.0.1', ${port}), timeout=3); print('CONNECTED')"`,
      );
      assert.notEqual(run.exitCode, 0);
      assert.doesNotMatch(run.log, /CONNECTED/);
      assert.equal(connections, 0);
    } finally {
      server.close();
    }
  });

  it('cannot kill the worker', async () => {
    const p = place();
    const run = await train(p, `kill -9 ${process.pid}; echo tried`);
    assert.match(run.log, /tried/);
    assert.ok(isRunning(process.pid));
  });

  it('leaves no process behind, not even a setsid child', async () => {
    const p = place();
    const marker = `ar-sandbox-orphan-${process.pid}-${Date.now()}`;
    const run = await train(
      p,
      `setsid sh -c 'exec -a ${marker} sleep 300' </dev/null >/dev/null 2>&1 & sleep 0.5; echo started`,
    );
    assert.match(run.log, /started/);
    assert.deepEqual(runningNamed(marker), [], 'a process of the training outlived it');
  });

  it("says how to get bubblewrap when it is missing, and keeps bwrap's own words when it cannot build a sandbox", async () => {
    await withPath(pathWithout(/^bwrap$/), async () => {
      assert.throws(() => bubblewrap(), /apt-get install bubblewrap.*--no-sandbox.*AUTORESEARCH_SANDBOX=off/);
    });
    const dir = mkdtempSync(path.join(tmpdir(), 'ar-bwrap-'));
    const fake = path.join(dir, 'bwrap');
    writeFileSync(fake, '#!/bin/sh\necho "bwrap: No permissions to create new namespace" >&2\nexit 1\n', {
      mode: 0o755,
    });
    assert.throws(() => checkSandbox(fake), /No permissions to create new namespace.*--no-sandbox/s);
  });

  it("hides the tool's own folder wherever it lives (keys, clones, other runs), but for its tools on PATH", async () => {
    // AUTORESEARCH_HOME inside the home under another name (Docker: HOME=/data, /data/autoresearch), and
    // outside the home altogether: both hidden, only their tools/ visible. Outside /tmp, which is hidden anyway.
    for (const layout of ['inside home', 'outside home'] as const) {
      const p = place();
      const arHome =
        layout === 'inside home'
          ? path.join(p.home, 'autoresearch')
          : mkdtempSync(path.join('/var/tmp', 'ar-home-'));
      mkdirSync(path.join(arHome, 'tools', 'bin'), { recursive: true });
      mkdirSync(path.join(arHome, 'work'), { recursive: true });
      writeFileSync(path.join(arHome, 'worker.key'), 'WORKER-KEY-MATERIAL\n');
      writeFileSync(path.join(arHome, 'work', 'record.json'), 'OTHER-RUN-RECORD\n');
      writeFileSync(path.join(arHome, 'tools', 'bin', 'artool'), '#!/bin/sh\necho TOOL-RAN\n', {
        mode: 0o755,
      });
      // Other slots' worktrees and private files, in a folder of their own (AUTORESEARCH_SLOTS_DIR).
      const slots = mkdtempSync(path.join('/var/tmp', 'ar-slots-'));
      mkdirSync(path.join(slots, 'other-run', 'gpu1'), { recursive: true });
      writeFileSync(path.join(slots, 'other-run', 'gpu1', 'setup.json'), 'OTHER-SLOT\n');
      const pathVariable = `${path.join(arHome, 'tools', 'bin')}:${process.env.PATH}`;
      const logPath = path.join(p.root, 'train.log');
      await runSupervised({
        command: `artool; cat ${arHome}/worker.key ${arHome}/work/record.json ${slots}/other-run/gpu1/setup.json; ls ${arHome}`,
        cwd: p.worktree,
        env: { PATH: pathVariable, HOME: p.home },
        logPath,
        timeoutSeconds: 30,
        pidFile: path.join(p.root, 'training.pid'),
        sandbox: sandboxArgs({
          worktree: p.worktree,
          home: p.home,
          autoresearchHome: arHome,
          slotsDir: slots,
          pathVariable,
        }),
      });
      const log = readFileSync(logPath, 'utf8');
      assert.match(log, /TOOL-RAN/, `${layout}: the tools on PATH run`);
      assert.doesNotMatch(log, /WORKER-KEY-MATERIAL|OTHER-RUN-RECORD|OTHER-SLOT/, `${layout}: ${log}`);
      assert.doesNotMatch(log, /^work$/m, `${layout}: nothing but tools/ is listed`);
    }
  });
});

describe('git in the sandbox', () => {
  it("lets the training read its commit with git, while the run's records stay hidden and git read-only", async () => {
    // The target in /tmp (hidden by the sandbox's own /tmp, as a home directory is): git still works.
    const repo = await makeTarget({ 'train.py': 'print(1)\n' });
    const common = path.join(repo, '.git');
    mkdirSync(path.join(common, 'autoresearch', 'runs', 'r', 'logs'), { recursive: true });
    writeFileSync(path.join(common, 'autoresearch', 'runs', 'r', 'results.tsv'), 'OTHER-EXPERIMENTS\n');
    const worktree = path.join(common, 'autoresearch', 'slots', 'gpu0', 'worktree');
    await git(repo, ['worktree', 'add', '-q', '--detach', worktree]);
    const head = await git(repo, ['rev-parse', 'HEAD']);
    const logPath = path.join(mkdtempSync(path.join(tmpdir(), 'ar-sandbox-git-')), 'log');
    await runSupervised({
      command:
        'git rev-parse HEAD; cat ' +
        `${common}/autoresearch/runs/r/results.tsv; ` +
        `git update-ref refs/autoresearch/r/exp/9 HEAD && echo REF-WRITTEN; true`,
      cwd: worktree,
      env: { PATH: process.env.PATH, HOME: '/nonexistent' },
      logPath,
      timeoutSeconds: 30,
      pidFile: `${logPath}.pid`,
      sandbox: sandboxArgs({ worktree, gitCommonDir: common }),
    });
    const log = readFileSync(logPath, 'utf8');
    assert.match(log, new RegExp(`^${head}$`, 'm'), log);
    assert.doesNotMatch(log, /OTHER-EXPERIMENTS|REF-WRITTEN/, log);
    assert.ok(!existsSync(path.join(common, 'refs', 'autoresearch', 'r', 'exp', '9')));
  });
});

describe('choosing the sandbox', () => {
  it("a worker that cannot build the sandbox refuses to start, with bwrap's words and the way out", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ar-bwrap-'));
    writeFileSync(
      path.join(dir, 'bwrap'),
      '#!/bin/sh\necho "bwrap: setting up uid map: Permission denied" >&2\nexit 1\n',
      { mode: 0o755 },
    );
    // No server at that address: the refusal comes first, not after the two minutes of waiting for one.
    const worker = spawnSync(process.execPath, [AUTORESEARCH_CLI, 'worker', '--train-only'], {
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, TEMPORAL_ADDRESS: '127.0.0.1:1' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(worker.status, 1, worker.stderr);
    assert.match(
      worker.stderr,
      /setting up uid map: Permission denied.*--no-sandbox.*AUTORESEARCH_SANDBOX=off/s,
    );
  });

  it('is on by default; --no-sandbox or AUTORESEARCH_SANDBOX=off turn it off; a bad value is named', () => {
    assert.equal(sandboxWanted(undefined, undefined), true);
    assert.equal(sandboxWanted(false, undefined), false);
    assert.equal(sandboxWanted(undefined, 'off'), false);
    assert.equal(sandboxWanted(undefined, 'on'), true);
    assert.equal(sandboxWanted(true, 'off'), true, 'the flag wins over the environment');
    assert.throws(() => sandboxWanted(undefined, 'maybe'), /AUTORESEARCH_SANDBOX="maybe".*"on" or "off"/);
  });
});
