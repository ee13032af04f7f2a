// A tiny target for tests that exercise orchestration rather than learning: a Python script that
// "trains" by sleeping and derives its metric from its constants, so outcomes are known in advance.
import { execa } from 'execa';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GIT_IDENTITY } from '../../store/git';

export interface FakeTargetOptions {
  /** Seconds each training sleeps. */
  sleepSeconds?: number;
  /** Python condition on the constants that makes training crash, e.g. "WIDTH > 20". */
  crashWhen?: string;
  /** Extra lines of train.py, run before the summary. */
  extra?: string;
  timeoutSeconds?: number;
  /**
   * Run-to-run noise: the target reads SEED (seed_env), and seeds 1 and 2 score this much above and
   * below the target's own seed.
   */
  noise?: number;
  /**
   * A gate every training waits at before it prints its summary, so that a test, not the machine's
   * speed, decides when trainings end (see makeGate).
   */
  gate?: Gate;
  /** More lines of the target's `[sandbox]` table (limits, network). */
  sandbox?: string;
  /**
   * A separate evaluation (`[eval]`, evaluate.py, frozen) that takes this many seconds: the training
   * leaves its loss in checkpoint.txt and the evaluation prints the metric from it.
   */
  evaluationSeconds?: number;
}

/**
 * What a test opens for the fake target's trainings: each one waits until it takes a token
 * (`release`), or until the gate is `open` for good. A live run then cannot race ahead of the test
 * however slow the machine is: while the test acts, the training in flight waits.
 */
export interface Gate {
  dir: string;
  /** Lets `count` more trainings finish. */
  release(count?: number): void;
  /** Lets every training finish from now on. */
  open(): void;
  /** True once the gate is open for good. */
  readonly isOpen: boolean;
}

/**
 * Where gates and holds live: one folder per test process, which the fake target's `[sandbox]
 * write_paths` opens to its trainings (the sandbox hides the machine's /tmp from candidate code).
 */
let signals: string | undefined;
export function signalsDir(): string {
  signals ??= mkdtempSync(path.join(tmpdir(), 'ar-signals-'));
  return signals;
}

/** `[sandbox]` of a test target whose trainings talk to the test through files in `signalsDir()`. */
export function signalsSandboxToml(): string {
  return `[sandbox]\nwrite_paths = [${JSON.stringify(signalsDir())}]\n`;
}

export function makeGate(): Gate {
  const dir = mkdtempSync(path.join(signalsDir(), 'gate-'));
  let tokens = 0;
  return {
    dir,
    release(count = 1) {
      for (let i = 0; i < count; i++)
        writeFileSync(path.join(dir, `token-${String(tokens++).padStart(6, '0')}`), '');
    },
    open() {
      writeFileSync(path.join(dir, 'open'), '');
    },
    get isOpen() {
      return existsSync(path.join(dir, 'open'));
    },
  };
}

/**
 * One experiment's training held until the test lets it go: train.py lines (for `extra`) that, when
 * `condition` holds (e.g. "LEARNING_RATE == 0.012"), write `started` and wait until `release()`.
 */
export interface Hold {
  code: string;
  /** Exists once the held training has started. */
  started: string;
  release(): void;
}

export function holdTraining(condition: string): Hold {
  const dir = mkdtempSync(path.join(signalsDir(), 'hold-'));
  const started = path.join(dir, 'started');
  const released = path.join(dir, 'release');
  return {
    code: [
      `if ${condition}:`,
      `    open(${JSON.stringify(started)}, "w").close()`,
      ...waitUntilExists(released),
    ].join('\n'),
    started,
    release: () => writeFileSync(released, ''),
  };
}

/** train.py lines: when `condition` holds, the training waits until `file` exists. */
export function waitInTraining(condition: string, file: string): string {
  return [`if ${condition}:`, ...waitUntilExists(file)].join('\n');
}

function waitUntilExists(file: string): string[] {
  return [`    while not os.path.exists(${JSON.stringify(file)}):`, '        time.sleep(0.05)'];
}

/** train.py's wait at the gate (lowercase names: the mutate proposer edits only UPPERCASE constants). */
function gateWait(gate: Gate): string {
  return `gate_dir = ${JSON.stringify(gate.dir)}
while not os.path.exists(os.path.join(gate_dir, "open")):
    tokens = sorted(f for f in os.listdir(gate_dir) if f.startswith("token-"))
    if tokens:
        try:
            os.remove(os.path.join(gate_dir, tokens[0]))
            break
        except FileNotFoundError:
            continue
    time.sleep(0.05)
`;
}

export async function makeFakeTarget(options: FakeTargetOptions = {}): Promise<string> {
  const train = `import os, sys, time
LEARNING_RATE = 0.01  # learning rate
WIDTH = 16  # model width
SLEEP = ${options.sleepSeconds ?? 0.2}  # seconds of "training"
for step in range(5):
    print(f"\\rstep {step}", end="", flush=True)
    time.sleep(SLEEP / 5)
print()
${options.crashWhen ? `if ${options.crashWhen}:\n    raise RuntimeError("this configuration crashes")` : ''}
${options.extra ?? ''}
${options.gate ? gateWait(options.gate) : ''}
loss = abs(LEARNING_RATE - 0.02) * 10 + abs(WIDTH - 24) / 100
${options.noise ? `loss += ${options.noise} * [0, 1, -1][int(os.environ.get("SEED", "0")) % 3]` : ''}
print("---")
print(f"val_bpb:          {loss:.6f}")
print(f"training_seconds: {SLEEP:.1f}")
print("peak_vram_mb:     1536.0")
${options.evaluationSeconds === undefined ? '' : 'open("checkpoint.txt", "w").write(str(loss))'}
`;
  const evaluation = options.evaluationSeconds !== undefined && {
    'evaluate.py': `import time\ntime.sleep(${options.evaluationSeconds})\nloss = float(open("checkpoint.txt").read())\nprint("---")\nprint(f"val_bpb: {loss:.6f}")\n`,
    '.gitignore': 'checkpoint.txt\n',
  };
  return makeTarget({
    'train.py': train,
    'prepare.py': '# frozen: data and evaluation\nEVAL_TOKENS = 1000\n',
    'program.md': '# program\nLower val_bpb.\n',
    ...evaluation,
    'autoresearch.toml':
      `[train]\ncommand = "python3 train.py"\nsetup = []\ntimeout_seconds = ${options.timeoutSeconds ?? 60}\n` +
      (options.noise ? 'seed_env = "SEED"\n' : '') +
      (evaluation
        ? '[eval]\ncommand = "python3 evaluate.py"\ntimeout_seconds = 30\n' +
          '[files]\neditable = ["train.py"]\nfrozen = ["prepare.py", "evaluate.py"]\nprogram = "program.md"\n'
        : '') +
      signalsSandboxToml() +
      (options.sandbox ?? ''),
  });
}

/** A target repository holding exactly `files`, committed on main. */
export async function makeTarget(files: Record<string, string>, prefix = 'ar-target-'): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  await git(dir, ['init', '-q', '-b', 'main']);
  await git(dir, ['add', '-A']);
  await git(dir, ['commit', '-q', '-m', 'target']);
  return dir;
}

/** A bare clone of the target: the git remote every machine of a run reaches (`start --remote`). */
export async function bareRemote(repo: string): Promise<string> {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'ar-remote-')), 'target.git');
  await git(tmpdir(), ['clone', '-q', '--bare', repo, dir]);
  return dir;
}

/** git in a test repository, with an identity of its own (a fresh machine may have no git user set). */
export async function git(dir: string, args: string[]): Promise<string> {
  return (await execa('git', args, { cwd: dir, env: GIT_IDENTITY })).stdout.trim();
}
