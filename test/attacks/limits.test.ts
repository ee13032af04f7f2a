// Attacks on the worker's machine itself: a fork bomb, an unbounded memory grab, a file grown without
// end, a disk filled up. Each runs as train.py through the real train activity in the real sandbox
// (bubblewrap, cgroups where the kernel gives them, real Python), and each must end contained: the
// machine and the worker unharmed, nothing of the attack left running, and the outcome naming the
// limit that stopped it. Each attack is bounded itself (it stops at a few times its limit), so that
// without the limits this file fails instead of taking the machine down.
import { MockActivityEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { scoreOutcome } from '../../activities/evaluate';
import { createTrainActivities } from '../../activities/train';
import { runSupervised } from '../../training/runSupervised';
import { sandboxArgs } from '../../training/sandbox';
import { SANDBOX_DEFAULTS } from '../../target/config';
import type { SandboxConfig, TargetConfig, TrainingOutcome } from '../../common/types';
import { git, makeFakeTarget } from '../support/fakeTarget';
import { preparedRun } from '../support/prepared';
import { isRunning } from '../support/processes';
import { waitFor } from '../support/waitFor';

const V1_PIDS = '/sys/fs/cgroup/pids';
const V1_MEMORY = '/sys/fs/cgroup/memory';

/** Whether this machine gives us cgroups for processes and memory (v1 hierarchies or a v2 tree). */
function cgroupsHere(): boolean {
  if (process.getuid?.() !== 0) return false;
  if (existsSync(path.join(V1_PIDS, 'cgroup.procs')) && existsSync(path.join(V1_MEMORY, 'cgroup.procs')))
    return true;
  try {
    const controllers = readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8');
    return /\bpids\b/.test(controllers) && /\bmemory\b/.test(controllers);
  } catch {
    return false;
  }
}
const noCgroups = cgroupsHere() ? false : 'no cgroup for processes and memory on this machine';

interface Attack {
  /** train.py lines run before the summary (the fake target's `extra`). */
  code: string;
  sandbox: Partial<SandboxConfig>;
  timeoutSeconds?: number;
  /** A word in the training's command line, to find its processes from outside. */
  marker?: string;
  /** Called while the training runs. */
  during?: () => void;
}

/** Trains an attack as experiment 0 of a fresh run in slot "lim", sandboxed, and returns its outcome. */
async function train(
  attack: Attack,
): Promise<{ outcome: TrainingOutcome; log: string; repo: string; config: TargetConfig }> {
  const repo = await makeFakeTarget({ extra: attack.code });
  const run = await preparedRun(repo, 'limits');
  const config = structuredClone(run.config);
  config.sandbox = { ...SANDBOX_DEFAULTS, ...attack.sandbox };
  config.train.timeoutSeconds = attack.timeoutSeconds ?? 60;
  if (attack.marker) config.train.command = `python3 train.py ${attack.marker}`;
  const { trainCandidate } = createTrainActivities({ slot: 'lim', sandbox: true });
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 60_000 });
  const sampler = attack.during ? setInterval(attack.during, 20) : undefined;
  try {
    const outcome: TrainingOutcome = await env.run(trainCandidate, {
      repo,
      tag: 'limits',
      n: 0,
      commit: run.baseCommit,
      config,
    });
    return { outcome, log: readFileSync(outcome.logPath, 'utf8'), repo, config };
  } finally {
    clearInterval(sampler);
  }
}

/** Live Python processes whose command line holds `marker` (not the supervisor, bwrap or bash around them). */
function processesWith(marker: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        return /python/.test(argv[0]!) && argv.includes(marker) && isRunning(pid);
      } catch {
        return false;
      }
    });
}

/** This process's training cgroups still on the machine (their names hold the worker's pid). */
function ownCgroups(): string[] {
  const found: string[] = [];
  for (const dir of [
    path.join(V1_PIDS, 'autoresearch'),
    path.join(V1_MEMORY, 'autoresearch'),
    '/sys/fs/cgroup/autoresearch',
  ])
    if (existsSync(dir))
      for (const name of readdirSync(dir))
        if (name.includes(`-${process.pid}-`)) found.push(path.join(dir, name));
  return found;
}

/** The worktrees of `repo` (wherever the slots keep them). */
async function worktrees(repo: string): Promise<string[]> {
  const listing = await git(repo, ['worktree', 'list', '--porcelain']);
  return listing
    .split('\n')
    .filter((l) => l.startsWith('worktree '))
    .map((l) => l.slice('worktree '.length))
    .filter((dir) => dir !== repo);
}

describe('attacks on the machine: limits on processes, memory, file size and disk', () => {
  it(
    'a fork bomb stops at max_processes; nothing of it outlives the training',
    { skip: noCgroups },
    async () => {
      const marker = `--bomb-${process.pid}-${Date.now()}`;
      // Forks until refused 200 times in a row (or 400 children: without a limit it must not take the
      // machine down); every child sleeps.
      const code = `
made = refused = 0
while made < 400 and refused < 200:
    try:
        pid = os.fork()
    except OSError:
        refused += 1
        time.sleep(0.01)
        continue
    if pid == 0:
        time.sleep(120)
        os._exit(0)
    made += 1
print(f"forked {made}, refused {refused}", flush=True)
if refused:
    raise SystemExit("fork refused")
`;
      let most = 0;
      const { outcome, log } = await train({
        code,
        marker,
        sandbox: { maxProcesses: 64 },
        during: () => {
          most = Math.max(most, processesWith(marker).length);
        },
      });
      assert.ok(most > 10, `the bomb ran (${most} processes seen at most)`);
      assert.ok(most <= 64, `never more than max_processes (64) processes: saw ${most}`);
      assert.notEqual(outcome.exitCode, 0, log);
      assert.equal(outcome.limitReached, 'processes', log);
      assert.match(log, /stopped: 64 processes, the sandbox's limit\n?$/);
      assert.deepEqual(processesWith(marker), [], 'no process of the bomb survives the training');
      assert.deepEqual(ownCgroups(), [], "the training's cgroups are removed");
    },
  );

  it(
    'an unbounded memory grab is killed at memory_mb; the worker lives on',
    { skip: noCgroups },
    async () => {
      // Up to 1.5 GiB in 16 MiB pieces (written, so the pages are really taken).
      const code = `
grab = []
for _ in range(96):
    grab.append(bytearray(16 << 20))
print(f"took {len(grab) * 16} MiB", flush=True)
`;
      const { outcome, log } = await train({ code, sandbox: { memoryMb: 256 } });
      assert.notEqual(outcome.exitCode, 0, log);
      assert.equal(outcome.limitReached, 'memory', log);
      assert.match(log, /killed: memory limit 256 MiB reached \(the cgroup's OOM killer\)\n?$/);
      assert.equal(outcome.metricText, null, 'no score for a killed training');
      assert.deepEqual(ownCgroups(), []);
      assert.ok(isRunning(process.pid));
    },
  );

  it('a file grown past max_file_mb fails to grow (EFBIG), and the outcome says so', async () => {
    const code = `
with open("huge.bin", "wb") as f:
    for _ in range(16):
        f.write(b"x" * (1 << 20))
print("wrote 16 MiB", flush=True)
`;
    const { outcome, log } = await train({ code, sandbox: { maxFileMb: 8 } });
    assert.doesNotMatch(log, /wrote 16 MiB/);
    assert.match(log, /File too large/);
    assert.notEqual(outcome.exitCode, 0, log);
    assert.equal(outcome.limitReached, 'file-size', log);
    assert.match(log, /a file grew past max_file_mb 8\n?$/);
  });

  it("filling the disk is stopped at the worker's reserve; the clean removes what it wrote", async () => {
    // The reserve is set 50 MiB below what is free now, so the attack crosses it after ~50 MiB of its up
    // to 1.5 GiB (it then sleeps: without a watchdog it would time out instead).
    const free = statfsSync(tmpdir());
    const freeMb = Math.floor((free.bavail * free.bsize) / 2 ** 20);
    const old = process.env.AUTORESEARCH_MIN_FREE_DISK_MB;
    process.env.AUTORESEARCH_MIN_FREE_DISK_MB = String(freeMb - 50);
    const code = `
with open("fill.bin", "wb") as f:
    for _ in range(384):
        f.write(b"x" * (4 << 20))
        f.flush()
        os.fsync(f.fileno())
print("filled", flush=True)
time.sleep(60)
`;
    try {
      const { outcome, log, repo } = await train({ code, sandbox: {}, timeoutSeconds: 30 });
      assert.equal(outcome.timedOut, false, log);
      assert.notEqual(outcome.exitCode, 0, log);
      assert.equal(outcome.limitReached, 'disk', log);
      assert.match(log, new RegExp(`killed: the disk's free space fell below ${freeMb - 50} MiB\\n?$`));
      for (const dir of await worktrees(repo))
        assert.ok(!existsSync(path.join(dir, 'fill.bin')), `the clean removed ${dir}/fill.bin`);
    } finally {
      if (old === undefined) delete process.env.AUTORESEARCH_MIN_FREE_DISK_MB;
      else process.env.AUTORESEARCH_MIN_FREE_DISK_MB = old;
    }
  });

  it(
    'when the supervisor itself dies, a setsid child of an unsandboxed training dies with its cgroup',
    { skip: noCgroups },
    async () => {
      // Without the sandbox's PID namespace, a setsid child leaves the process group the worker kills; the
      // cgroup still holds it.
      const root = mkdtempSync(path.join(tmpdir(), 'ar-setsid-'));
      const pidFile = path.join(root, 'training.pid');
      const childPid = path.join(root, 'child.pid');
      const training = runSupervised({
        command: `setsid sleep 300 & echo $! > ${childPid}; sleep 300`,
        cwd: root,
        env: { PATH: process.env.PATH },
        logPath: path.join(root, 'train.log'),
        timeoutSeconds: 60,
        pidFile,
        limits: { maxProcesses: 64 },
        slot: 'lim',
      });
      const escaped = await waitFor('the setsid child', () =>
        existsSync(childPid) && readFileSync(childPid, 'utf8').trim()
          ? Number(readFileSync(childPid, 'utf8'))
          : undefined,
      );
      assert.ok(isRunning(escaped));
      process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
      const result = await training;
      assert.equal(result.signal, 'SIGKILL');
      assert.ok(!isRunning(escaped), 'the setsid child is killed with its cgroup');
      assert.deepEqual(ownCgroups(), []);
    },
  );

  it('where no cgroup can be had, trainings still run, the line says so once, file sizes stay limited', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'ar-nocgroup-'));
    const old = process.env.AUTORESEARCH_CGROUP_ROOT;
    process.env.AUTORESEARCH_CGROUP_ROOT = path.join(root, 'missing');
    const lines: string[] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]) => lines.push(args.join(' '));
    const limits = { maxProcesses: 64, memoryMb: 256, maxFileMb: 1 };
    const run = (command: string, name: string) =>
      runSupervised({
        command,
        cwd: root,
        env: { PATH: process.env.PATH },
        logPath: path.join(root, `${name}.log`),
        timeoutSeconds: 30,
        pidFile: path.join(root, 'training.pid'),
        limits,
      });
    try {
      const first = await run('echo trained', 'first');
      const second = await run('head -c 2000000 /dev/zero > big.bin', 'second');
      assert.equal(first.exitCode, 0);
      assert.match(readFileSync(path.join(root, 'first.log'), 'utf8'), /trained/);
      assert.notEqual(second.exitCode, 0, 'a 2 MB file is past max_file_mb 1');
      assert.equal(second.limitReached, 'file-size');
      const said = lines.filter((l) => l.includes('sandbox limits not enforced on this machine'));
      assert.equal(said.length, 1, lines.join('\n'));
      assert.match(
        said[0]!,
        /^sandbox limits not enforced on this machine: .*missing.* \(processes, memory\); disk and file-size limits still apply$/,
      );
    } finally {
      console.warn = warn;
      if (old === undefined) delete process.env.AUTORESEARCH_CGROUP_ROOT;
      else process.env.AUTORESEARCH_CGROUP_ROOT = old;
    }
  });

  it("the sandbox's scratch /tmp is bounded: writing past its size fails, the machine's memory is safe", async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'ar-scratch-'));
    const logPath = path.join(root, 'train.log');
    const result = await runSupervised({
      command: 'head -c 20000000 /dev/zero > /tmp/fill.bin; echo "exit $?"; ls -l /tmp/fill.bin',
      cwd: root,
      env: { PATH: process.env.PATH },
      logPath,
      timeoutSeconds: 30,
      pidFile: path.join(root, 'training.pid'),
      sandbox: sandboxArgs({ worktree: root, home: path.join(root, 'home'), scratchMb: 8 }),
    });
    const log = readFileSync(logPath, 'utf8');
    assert.equal(result.exitCode, 0, log);
    assert.match(log, /No space left on device/);
    assert.match(log, /exit 1/);
    assert.match(log, / 8388608 /, 'the file stopped at the 8 MiB the scratch holds');
  });

  it('a training stopped by a limit and then by the timeout says both', { skip: noCgroups }, async () => {
    // A bomb that keeps trying to fork never exits by itself: the timeout ends it, and the reason the
    // agent and the records get must still name the limit it hit.
    const { outcome, log, config } = await train({
      code: `
while True:
    try:
        if os.fork() == 0:
            time.sleep(120)
            os._exit(0)
    except OSError:
        time.sleep(0.01)
`,
      sandbox: { maxProcesses: 16 },
      timeoutSeconds: 3,
    });
    assert.equal(outcome.timedOut, true, log);
    assert.equal(outcome.limitReached, 'processes', log);
    const verdict = scoreOutcome(outcome, config);
    assert.equal(verdict.status, 'timeout');
    assert.match(
      verdict.reason!,
      /killed after the 3s hard timeout; .*stopped: 16 processes, the sandbox's limit/,
    );
  });

  it(
    "a dead worker's leftover cgroup is emptied and removed at the next training of its slot",
    {
      skip:
        existsSync(path.join(V1_PIDS, 'cgroup.procs')) && process.getuid?.() === 0
          ? false
          : 'no cgroup v1 pids hierarchy',
    },
    async () => {
      // A worker that is gone: a process that has exited, whose pid names the leftover.
      const gone = spawn('true');
      await new Promise((r) => gone.on('exit', r));
      const leftover = path.join(V1_PIDS, 'autoresearch', `lim-${gone.pid}-left`);
      mkdirSync(leftover, { recursive: true });
      const sleeper = spawn('sleep', ['300'], { stdio: 'ignore' });
      writeFileSync(path.join(leftover, 'cgroup.procs'), String(sleeper.pid));
      await train({ code: '', sandbox: {} });
      assert.ok(!existsSync(leftover), `${leftover} is removed`);
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(!isRunning(sleeper.pid!), 'what ran in it is killed');
    },
  );
});
