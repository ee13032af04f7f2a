// A fleet on one run, as the bench simulates it: the control worker in the bench's own process, and the
// training slots in worker processes of their own (`autoresearch worker --train-only --slots N`), the way
// a GPU box per machine would serve them. Their output goes to a log file, named when one fails.
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnWorker } from '../../test/support/commandLines';
import { startWorkers, uniqueQueues } from '../../test/support/temporal';
import { benchAgentCommands, workersWithSlots, type Bench, type BenchWorkers } from './context';

/** How long a training worker process may take to say it polls (loading the SDK, connecting). */
const START_TIMEOUT_MS = 120_000;

/** `slots` split into processes of at most `perProcess` each: 20 by 8 is 8, 8 and 4. */
export function slotsPerProcess(slots: number, perProcess: number): number[] {
  const sizes: number[] = [];
  for (let left = slots; left > 0; left -= perProcess) sizes.push(Math.min(left, perProcess));
  return sizes;
}

/** In-process control worker plus training worker processes offering `slots` slots in all. */
export async function fleetWorkers(bench: Bench, name: string, slots: number): Promise<BenchWorkers> {
  const queues = uniqueQueues(`bench-${name}`);
  const control = await startWorkers(bench.address, {
    ...queues,
    train: false,
    agentCommands: benchAgentCommands,
  });
  const logDir = mkdtempSync(path.join(tmpdir(), 'ar-bench-fleet-'));
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(children.map(stopChild));
    await control.stop();
  };
  try {
    const sizes = slotsPerProcess(slots, bench.settings.slotsPerWorker);
    await Promise.all(
      sizes.map((size, k) => {
        const log = path.join(logDir, `worker-${k}.log`);
        const child = trainingWorker(bench.address, queues, size, log);
        children.push(child);
        return polling(child, log);
      }),
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { queues, stop };
}

/** `autoresearch worker --train-only --slots N`, its output appended to `log`. */
function trainingWorker(
  address: string,
  queues: BenchWorkers['queues'],
  slots: number,
  log: string,
): ChildProcess {
  const out = openSync(log, 'a');
  try {
    return spawnWorker(address, queues, ['ignore', out, out], ['--train-only', '--slots', String(slots)]);
  } finally {
    closeSync(out);
  }
}

/** Resolves once the worker says it polls; rejects, naming its log, if it exits or takes too long. */
function polling(child: ChildProcess, log: string): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      const text = readLog(log);
      if (/worker polling/.test(text)) {
        clearInterval(timer);
        resolve();
      } else if (
        child.exitCode !== null ||
        child.signalCode !== null ||
        Date.now() - started > START_TIMEOUT_MS
      ) {
        clearInterval(timer);
        reject(
          new Error(`a training worker process did not start; its output (${log}):\n${text.slice(-2000)}`),
        );
      }
    }, 200);
  });
}

function readLog(log: string): string {
  try {
    return readFileSync(log, 'utf8');
  } catch {
    return '';
  }
}

/** SIGTERM (the worker drains), then SIGKILL if it is still there after a while. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Runs `body` with workers offering `slots` slots: in the bench's own process up to `--slots-per-worker`
 * (as every earlier bench did), beyond that as a fleet of training worker processes.
 */
export async function withFleet<T>(
  bench: Bench,
  name: string,
  slots: number,
  body: (queues: BenchWorkers['queues']) => Promise<T>,
): Promise<T> {
  const workers =
    slots <= bench.settings.slotsPerWorker
      ? await workersWithSlots(bench, name, slots)
      : await fleetWorkers(bench, name, slots);
  try {
    return await body(workers.queues);
  } finally {
    await workers.stop();
  }
}
