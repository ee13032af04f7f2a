// Runs one training command as the leader of its own process group (the worker starts this script
// detached) and takes the whole group down if the worker that started it goes away: stdin is a pipe
// from the worker, so end-of-file means the worker died, even by SIGKILL. No orphan keeps a GPU busy:
// the command gets a moment (WORKER_GONE_GRACE_MS) to finish what it is finishing, no more.
// The worker starts it ahead of the run, while the slot still trains (training/supervisorStandby.ts), and
// says what to run in its first line on stdin: Node's start-up is then off the gap between two trainings.
// Until that line comes it does nothing, and a worker that goes away before it leaves it nothing to do.
// A command that exits 0 on its own (not stopped by the worker) leaves an exit note, if the worker gave
// one (a marker it signed in advance): a worker that died at the end of a training leaves its retry the
// proof that the training ended, so the training is not run a second time.
// It also writes the command's output to the log, capped: a script that floods its output must not fill
// the disk, and the end of the output (the metric summary) must survive, so past the cap only a rolling
// tail is kept and written after a line saying how much was dropped.
// With a disk reserve given, it also watches the worktree's free space and stops the training that eats
// into it, so the worker keeps room for its logs and records (and says so on fd 3).
// Plain JavaScript on purpose: it starts in milliseconds and needs nothing but Node itself.
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import {
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  statfsSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { constants } from 'node:os';
import { clearInterval, setInterval } from 'node:timers';

/**
 * The worker's first line on stdin, JSON:
 * @typedef {{
 *   command: string,
 *   cwd: string,
 *   env: Record<string, string>,
 *   log: string,
 *   maxLogBytes?: number,
 *   tailBytes?: number,
 *   wrapper?: string[],
 *   watch?: { path: string, minFreeMb: number } | null,
 *   exitNote?: { file: string, text: string },
 * }} RunSpec
 */

/** How long a command may go on once its worker is gone: long enough to exit if it was exiting. */
const WORKER_GONE_GRACE_MS = 2000;

const killGroup = () => {
  try {
    process.kill(-process.pid, 'SIGKILL');
  } catch {
    process.exit(137);
  }
};

let fromWorker = '';
let workerGone = false;
/** @type {RunSpec | undefined} */
let spec;
process.stdin.on('data', (/** @type {Buffer} */ chunk) => {
  if (spec) return; // the first line is all the worker says
  fromWorker += chunk.toString();
  const end = fromWorker.indexOf('\n');
  if (end < 0) return;
  try {
    spec = JSON.parse(fromWorker.slice(0, end));
  } catch {
    process.exit(2); // not a line this worker wrote: nothing is run
  }
  start(/** @type {RunSpec} */ (spec));
});
const onWorkerGone = () => {
  if (workerGone) return;
  workerGone = true;
  // Started ahead and never given a run: nothing to wait for.
  if (!spec) process.exit(0);
  setTimeout(killGroup, WORKER_GONE_GRACE_MS);
};
process.stdin.on('end', onWorkerGone);
process.stdin.on('error', onWorkerGone);
process.stdin.resume();

// The worker stops a run (timeout, cancellation) by signalling the whole group: the command gets the
// signal itself and this supervisor stays to report how it ended. A command so stopped leaves no exit
// note, even one that exits 0 on the signal: it did not end on its own.
let stopped = false;
process.on('SIGTERM', () => {
  stopped = true;
});
process.on('SIGINT', () => {
  stopped = true;
});

/** The exit note, whole or not at all (a file of its own, then renamed). */
const writeExitNote = (/** @type {RunSpec['exitNote']} */ exitNote) => {
  if (!exitNote || typeof exitNote.file !== 'string' || typeof exitNote.text !== 'string') return;
  const temp = `${exitNote.file}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, exitNote.text);
    renameSync(temp, exitNote.file);
  } catch {
    // no note: a retry trains again, which costs time and never a result
  }
};

/** The log's file descriptor, opened when the run comes (the worker created the file, empty). */
let logFd = -1;
// A log that cannot be written (a full disk) loses output, not the training: the metric may still come.
const write = (/** @type {Buffer | string} */ data) => {
  try {
    writeSync(logFd, data);
  } catch {
    // nothing to do: the worker reads what the log holds
  }
};

// Written as it comes up to the cap; past it, only the last `tailBytes` are held, until the command exits.
let maxLogBytes = Infinity;
let tailBytes = 256 * 1024;
let written = 0;
let dropped = 0;
/** @type {Buffer[]} */
let tail = [];
let tailSize = 0;
const onOutput = (/** @type {Buffer} */ chunk) => {
  const room = Math.max(0, maxLogBytes - written);
  if (room > 0) {
    const head = chunk.subarray(0, room);
    write(head);
    written += head.length;
    chunk = chunk.subarray(head.length);
  }
  if (chunk.length === 0) return;
  tail.push(chunk);
  tailSize += chunk.length;
  while (tailSize - tail[0].length >= tailBytes) {
    tailSize -= tail[0].length;
    dropped += tail.shift().length;
  }
};
const flushTail = () => {
  let rest = Buffer.concat(tail);
  tail = [];
  if (rest.length > tailBytes) {
    dropped += rest.length - tailBytes;
    rest = rest.subarray(rest.length - tailBytes);
  }
  if (dropped > 0) {
    // Start the kept tail at a line boundary, so no half line follows the notice.
    const cut = rest.findIndex((b) => b === 0x0a || b === 0x0d);
    if (cut >= 0 && cut < rest.length - 1) {
      dropped += cut + 1;
      rest = rest.subarray(cut + 1);
    }
    write(
      `\n[autoresearch: ${dropped} bytes of output dropped here: the log keeps the first ${maxLogBytes} ` +
        `and the last ${tailBytes} bytes. Print less, or raise AUTORESEARCH_MAX_LOG_BYTES on the worker.]\n`,
    );
  }
  if (rest.length > 0) write(rest);
};

/** Runs the worker's command, and exits with its exit code. */
function start(/** @type {RunSpec} */ run) {
  try {
    logFd = openSync(run.log, 'a');
  } catch {
    process.exit(74); // the worker made the file a moment ago: it reports this exit as a failed run
  }
  // What goes wrong in here from now on is the run's failure, told in its log.
  process.on('uncaughtException', (err) => {
    write(`\n[autoresearch: the training's supervisor failed: ${err.stack ?? err}]\n`);
    killOthers();
    process.exit(70);
  });
  if (Number(run.maxLogBytes) > 0) maxLogBytes = Number(run.maxLogBytes);
  if (Number(run.tailBytes) > 0) tailBytes = Number(run.tailBytes);
  // stdout and stderr share one pipe (as they shared the log file before), so their order is kept.
  const shell = ['/bin/bash', '-c', `exec 2>&1\n${run.command}`];
  // The sandbox (bwrap and its arguments) the command runs in, if any: it ends with `--`.
  const argv = [...(run.wrapper ?? []), ...shell];
  const child = spawn(argv[0], argv.slice(1), {
    cwd: run.cwd,
    env: run.env,
    stdio: ['ignore', 'pipe', logFd],
  });
  child.stdout.on('data', onOutput);
  child.on('error', (err) => {
    write(`could not start the training command: ${err.message}\n`);
    process.exit(127);
  });
  let finished = false;
  const finish = (/** @type {number | null} */ code, /** @type {NodeJS.Signals | null} */ signal) => {
    if (finished) return;
    finished = true;
    flushTail();
    if (code === 0 && !stopped) writeExitNote(run.exitNote);
    // With no worker to kill what the command left behind in the group, this supervisor does.
    if (workerGone) killGroup();
    process.exit(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
  };
  // 'close' comes once the pipe is drained too; a background process the command left holding the pipe
  // open must not keep the supervisor waiting, so 'exit' gives the pipe a second (the worker then kills
  // the group).
  child.on('close', finish);
  child.on('exit', (code, signal) => setTimeout(() => finish(code, signal), 1000));
  if (run.watch) watchDisk(run.watch, () => child.kill('SIGKILL'));
}

// Every process of the group but this one (the group-wide kill would take the reporter with it).
const killOthers = () => {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === process.pid)
        process.kill(Number(name), 'SIGKILL');
    } catch {
      // gone already
    }
  }
};

// Checked four times a second: statfs costs microseconds, and the reserve must outlast what a training
// can write between two looks (a second at disk speed is well under the 1 GiB default).
function watchDisk(/** @type {{ path: string, minFreeMb: number }} */ watch, /** @type {() => void} */ kill) {
  const timer = setInterval(() => {
    let freeMb;
    try {
      const fs = statfsSync(watch.path);
      freeMb = (fs.bavail * fs.bsize) / 2 ** 20;
    } catch {
      return;
    }
    if (freeMb >= watch.minFreeMb) return;
    clearInterval(timer);
    try {
      writeSync(3, 'disk\n');
    } catch {
      // started without the report pipe: the log line is all there is
    }
    kill();
    killOthers();
  }, 250);
  timer.unref();
}
