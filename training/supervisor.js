// Runs one training command as the leader of its own process group (the worker starts this script
// detached) and takes the whole group down if the worker that started it goes away: stdin is a pipe
// from the worker, so end-of-file means the worker died, even by SIGKILL. No orphan keeps a GPU busy.
// It also writes the command's output to the log (its own stdout), capped: a script that floods its
// output must not fill the disk, and the end of the output (the metric summary) must survive, so past
// the cap only a rolling tail is kept and written after a line saying how much was dropped.
// With a disk reserve given, it also watches the worktree's free space and stops the training that eats
// into it, so the worker keeps room for its logs and records (and says so on fd 3).
// Plain JavaScript on purpose: it starts in milliseconds and needs nothing but Node itself.
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, statfsSync, writeSync } from 'node:fs';
import { constants } from 'node:os';
import { clearInterval, setInterval } from 'node:timers';

const [command, capArg, tailArg, wrapperArg, watchArg] = process.argv.slice(2);
if (!command) {
  console.error(
    'usage: supervisor.js "<shell command>" [max log bytes] [tail bytes] [wrapper argv JSON] ' +
      '[{"path": dir, "minFreeMb": n} JSON]',
  );
  process.exit(2);
}
const maxLogBytes = Number(capArg) > 0 ? Number(capArg) : Infinity;
const tailBytes = Number(tailArg) > 0 ? Number(tailArg) : 256 * 1024;
// The sandbox (bwrap and its arguments, JSON) the command runs in, if any: it ends with `--`.
/** @type {string[]} */
const wrapper = wrapperArg ? JSON.parse(wrapperArg) : [];
// The disk to watch and the free space (MiB) it must keep, if any.
/** @type {{ path: string, minFreeMb: number } | null} */
const watch = watchArg ? JSON.parse(watchArg) : null;

const killGroup = () => {
  try {
    process.kill(-process.pid, 'SIGKILL');
  } catch {
    process.exit(137);
  }
};
process.stdin.on('end', killGroup);
process.stdin.on('error', killGroup);
process.stdin.resume();

// The worker stops a run by signalling the whole group: the command gets the signal itself and this
// supervisor stays to report how it ended.
process.on('SIGTERM', () => {});
process.on('SIGINT', () => {});

// A log that cannot be written (a full disk) loses output, not the training: the metric may still come.
const write = (/** @type {Buffer | string} */ data) => {
  try {
    writeSync(1, data);
  } catch {
    // nothing to do: the worker reads what the log holds
  }
};

// Written as it comes up to the cap; past it, only the last `tailBytes` are held, until the command exits.
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

// stdout and stderr share one pipe (as they shared the log file before), so their order is kept.
const shell = ['/bin/bash', '-c', `exec 2>&1\n${command}`];
const argv = [...wrapper, ...shell];
const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
child.stdout.on('data', onOutput);
child.on('error', (err) => {
  console.error(`could not start the training command: ${err.message}`);
  process.exit(127);
});
let finished = false;
const finish = (/** @type {number | null} */ code, /** @type {NodeJS.Signals | null} */ signal) => {
  if (finished) return;
  finished = true;
  flushTail();
  process.exit(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
};
// 'close' comes once the pipe is drained too; a background process the command left holding the pipe
// open must not keep the supervisor waiting, so 'exit' gives the pipe a second (the worker then kills
// the group).
child.on('close', finish);
child.on('exit', (code, signal) => setTimeout(() => finish(code, signal), 1000));

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
if (watch) {
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
    child.kill('SIGKILL');
    killOthers();
  }, 250);
  timer.unref();
}
