// Runs a shell command the way training must run: in its own process group, output to a log file,
// progress reported while it runs, a hard timeout, cancellation, and the whole group killed at the
// end, so nothing it spawned outlives it (docs/ARCHITECTURE.md, invariant 4).
import {
  appendFileSync,
  closeSync,
  openSync,
  readSync,
  fstatSync,
  rmSync,
  writeFileSync,
  mkdirSync,
} from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import {
  diskReserveMb,
  enforceLimits,
  fileSizeReached,
  limitMessage,
  releaseLimits,
  type LimitReached,
  type SandboxLimits,
} from './sandboxLimits';
import { spawnSupervisor, type SupervisorStandby } from './supervisorStandby';

/** How long a stopped command may take to exit on SIGTERM before the group gets SIGKILL. */
const KILL_GRACE_MS = 5000;
/** A log keeps this much of the start of the output, then only its end (the metric summary comes last). */
export const DEFAULT_MAX_LOG_BYTES = 20 * 1024 * 1024;
export const LOG_TAIL_BYTES = 256 * 1024;

/** The log cap: AUTORESEARCH_MAX_LOG_BYTES on the worker, else 20 MB. */
export function maxLogBytes(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.AUTORESEARCH_MAX_LOG_BYTES);
  return Number.isInteger(value) && value > 0 ? value : DEFAULT_MAX_LOG_BYTES;
}

export interface SupervisedRun {
  command: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  logPath: string;
  timeoutSeconds: number;
  /** Holds the process group id while the command runs, so a later worker can reap a leftover group. */
  pidFile: string;
  cancel?: AbortSignal;
  /** Called about every `progressEveryMs` with the last line of the log. */
  onProgress?: (lastLine: string, elapsedSeconds: number) => void;
  progressEveryMs?: number;
  /** The log's cap (default: maxLogBytes()); past it only the last LOG_TAIL_BYTES are kept. */
  maxLogBytes?: number;
  /** Run the command in this sandbox (training/sandbox.ts sandboxArgs: bwrap and its arguments). */
  sandbox?: string[];
  /** Bound its processes, memory, file sizes and the disk it may fill (training/sandboxLimits.ts). */
  limits?: SandboxLimits;
  /** Names its cgroup, so the next run of this slot finds and removes what a dead worker left. */
  slot?: string;
  /**
   * Called with the result the moment it is known, before the clean-up (the group's kill, the cgroup's
   * release): a caller that saves the outcome there keeps the window in which a worker's death loses a
   * finished training as short as it can be.
   */
  onFinished?: (result: SupervisedResult) => void;
  /**
   * Written by the supervisor itself when the command exits 0 on its own (no timeout, no cancellation):
   * `text` at `file`, a marker signed in advance. It outlives a worker that dies as the command ends, so
   * a retry knows the training finished (training/runTraining.ts, endedOnItsOwn).
   */
  exitNote?: { file: string; text: string };
  /** Supervisors started ahead, per slot (with `slot`): the run takes its slot's, and one starts for the next. */
  standby?: SupervisorStandby;
  /**
   * Niceness added to the supervisor's before it starts the command (which inherits it): a proposer's
   * agent yields the CPU to trainings, whose start-up and data loading are on a slot's critical path.
   */
  nice?: number;
}

export interface SupervisedResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  cancelled: boolean;
  seconds: number;
  /** The limit that stopped a run that failed (its log ends with a line saying so). */
  limitReached?: LimitReached;
}

export function killGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** The last bytes of a file, decoded (never the whole file: a log can be huge). */
export function readTail(file: string, bytes: number): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, bytes);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    return buffer.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** Adds `by` to a process's niceness (at most 19); a process already gone is left to its own report. */
function lowerPriority(pid: number, by: number): void {
  try {
    setPriority(pid, Math.min(19, getPriority(pid) + by));
  } catch {
    // it exited already: its 'exit' says so
  }
}

function lastLine(text: string): string {
  const lines = text.split(/\r\n|\r|\n/).filter((l) => l.trim());
  return (lines[lines.length - 1] ?? '').slice(0, 200);
}

export async function runSupervised(run: SupervisedRun): Promise<SupervisedResult> {
  mkdirSync(path.dirname(run.logPath), { recursive: true });
  if (run.exitNote) mkdirSync(path.dirname(run.exitNote.file), { recursive: true });
  const limits = run.limits && {
    ...run.limits,
    minFreeDiskMb: run.limits.minFreeDiskMb ?? diskReserveMb(run.cwd),
  };
  const enforced = limits ? await enforceLimits(limits, run.slot ?? 'run') : undefined;
  try {
    // Created empty here, where a bad path is this worker's error; the supervisor writes the output.
    closeSync(openSync(run.logPath, 'w'));
  } catch (err) {
    if (enforced) await releaseLimits(enforced);
    throw err;
  }
  const started = Date.now();
  const wrapper = [...(enforced?.prefix ?? []), ...(run.sandbox ?? [])];
  const watch = limits ? { path: run.cwd, minFreeMb: limits.minFreeDiskMb } : null;
  const child = run.standby && run.slot ? run.standby.take(run.slot) : spawnSupervisor();
  // Before the run goes to it: the supervisor starts the command only once it has read its line.
  if (run.nice && child.pid) lowerPriority(child.pid, run.nice);
  // The supervisor's first line: the run, and what it writes should the command end on its own.
  child.stdin?.on('error', () => {}); // a supervisor that could not start answers through 'error' below
  child.stdin?.write(
    `${JSON.stringify({
      command: run.command,
      cwd: run.cwd,
      env: run.env,
      log: run.logPath,
      maxLogBytes: run.maxLogBytes ?? maxLogBytes(),
      tailBytes: LOG_TAIL_BYTES,
      wrapper,
      watch,
      exitNote: run.exitNote,
    })}\n`,
  );
  const pgid = child.pid!;
  writeFileSync(run.pidFile, String(pgid));
  let reported = '';
  const report = child.stdio[3] as Readable | null;
  report?.on('data', (chunk: Buffer) => (reported += chunk.toString()));
  // 'exit' may come before the pipe's last data: the report is read to its end (the supervisor's exit
  // closes it; a second is a net for a pipe something else still holds).
  const reportEnded = new Promise<void>((resolve) => {
    if (!report) return resolve();
    report
      .on('end', resolve)
      .on('close', resolve)
      .on('error', () => resolve());
  });

  let timedOut = false;
  let cancelled = false;
  let killTimer: NodeJS.Timeout | undefined;
  const stop = () => {
    killGroup(pgid, 'SIGTERM');
    killTimer ??= setTimeout(() => killGroup(pgid, 'SIGKILL'), KILL_GRACE_MS);
  };
  const timeout = setTimeout(() => {
    timedOut = true;
    stop();
  }, run.timeoutSeconds * 1000);
  const onCancel = () => {
    cancelled = true;
    stop();
  };
  run.cancel?.addEventListener('abort', onCancel);
  if (run.cancel?.aborted) onCancel();
  const progress = setInterval(
    () => run.onProgress?.(lastLine(readTail(run.logPath, 4096)), (Date.now() - started) / 1000),
    run.progressEveryMs ?? 2000,
  );

  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (c, s) => resolve([c, s]));
    });
    const seconds = (Date.now() - started) / 1000;
    // The supervisor leaves no exit note for a command the worker stopped, but the command's exit and
    // the supervisor's own SIGTERM come from the same kill of the group, in either order: one written
    // in that race goes here, by the worker, which knows it stopped the run.
    if ((timedOut || cancelled) && run.exitNote) rmSync(run.exitNote.file, { force: true });
    if (limits)
      await Promise.race([reportEnded, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    const failed = !cancelled && (timedOut || code !== 0);
    const limit =
      failed && limits
        ? limitReached(reported, enforced?.cgroup?.limitHit(), limits, code, signal, run.logPath)
        : undefined;
    if (limit && limits) appendFileSync(run.logPath, `\n${limitMessage(limit, limits)}\n`);
    const result: SupervisedResult = {
      exitCode: code,
      signal,
      timedOut,
      cancelled,
      seconds,
      ...(limit ? { limitReached: limit } : {}),
    };
    run.onFinished?.(result);
    return result;
  } finally {
    clearTimeout(timeout);
    clearTimeout(killTimer);
    clearInterval(progress);
    run.cancel?.removeEventListener('abort', onCancel);
    // Whatever the command left behind in its group (data loaders, servers) goes with it.
    killGroup(pgid, 'SIGKILL');
    child.stdin?.destroy();
    // And whatever left the group (setsid) but not its cgroup.
    if (enforced) await releaseLimits(enforced);
    rmSync(run.pidFile, { force: true });
  }
}

/** Which limit stopped a failed run: the one that acted first, as the supervisor and the kernel tell. */
function limitReached(
  reported: string,
  kernel: 'memory' | 'processes' | undefined,
  limits: SandboxLimits,
  code: number | null,
  signal: string | null,
  logPath: string,
): LimitReached | undefined {
  if (/^disk$/m.test(reported)) return 'disk';
  if (kernel === 'memory') return 'memory';
  if (limits.maxFileMb !== undefined && fileSizeReached(code, signal, readTail(logPath, 64 * 1024)))
    return 'file-size';
  return kernel;
}
