// Part "sandbox": what the training sandbox costs per experiment. A trivial training (`python3 -c pass`)
// started and finished through the supervisor, as the train activity runs every training, plain and then
// in the sandbox with the limits (bubblewrap, a cgroup made and removed, the file-size limit, the disk
// watchdog); the difference of the medians is the sandbox's price per experiment.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runSupervised } from '../../training/runSupervised';
import { findOnPath } from '../../system/executables';
import { checkSandbox, sandboxArgs } from '../../training/sandbox';
import { limitsFor, scratchSizeMb } from '../../training/sandboxLimits';
import { SANDBOX_DEFAULTS } from '../../target/config';
import { figure, line, section } from './report';

const TARGET_MS = 50;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export async function benchSandboxCost(runs: number): Promise<void> {
  section(`the training sandbox's cost: \`python3 -c pass\` through the supervisor, ${runs} runs each way`);
  const bwrap = findOnPath('bwrap');
  if (!bwrap) return line('skipped: no bubblewrap on this machine (apt-get install bubblewrap)');
  try {
    checkSandbox(bwrap);
  } catch (err) {
    return line(`skipped: ${(err as Error).message}`);
  }
  const root = mkdtempSync(path.join(tmpdir(), 'ar-bench-sandbox-'));
  const limits = limitsFor({ ...SANDBOX_DEFAULTS, memoryMb: 4096, maxFileMb: 1024 }, 'training');
  const sandbox = sandboxArgs({ worktree: root, scratchMb: scratchSizeMb(limits) }, bwrap);
  const once = async (sandboxed: boolean): Promise<number> => {
    const started = performance.now();
    const result = await runSupervised({
      command: 'python3 -c pass',
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      logPath: path.join(root, 'train.log'),
      timeoutSeconds: 60,
      pidFile: path.join(root, 'training.pid'),
      ...(sandboxed ? { sandbox, limits, slot: 'bench' } : {}),
    });
    if (result.exitCode !== 0) throw new Error(`the trivial training failed (exit ${result.exitCode})`);
    return performance.now() - started;
  };
  try {
    // One of each first: a cold Python and a cold bwrap are not what an experiment pays.
    await once(false);
    await once(true);
    const plain: number[] = [];
    const boxed: number[] = [];
    // Interleaved, so a change in the machine's load falls on both alike.
    for (let i = 0; i < runs; i++) {
      plain.push(await once(false));
      boxed.push(await once(true));
    }
    const [a, b] = [median(plain), median(boxed)];
    line(
      `median without the sandbox: ${a.toFixed(1)} ms; with the sandbox and its limits: ${b.toFixed(1)} ms`,
    );
    figure('sandbox cost per experiment', `${(b - a).toFixed(1)} ms`, `< ${TARGET_MS} ms`, b - a < TARGET_MS);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
