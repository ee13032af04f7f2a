// Runs one training command as the leader of its own process group (the worker starts this script
// detached) and takes the whole group down if the worker that started it goes away: stdin is a pipe
// from the worker, so end-of-file means the worker died, even by SIGKILL. No orphan keeps a GPU busy.
// Plain JavaScript on purpose: it starts in milliseconds and needs nothing but Node itself.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

const command = process.argv[2];
if (!command) {
  console.error('usage: trainingSupervisor.js "<shell command>"');
  process.exit(2);
}

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

const child = spawn('/bin/bash', ['-c', command], { stdio: ['ignore', 'inherit', 'inherit'] });
child.on('error', (err) => {
  console.error(`could not start the training command: ${err.message}`);
  process.exit(127);
});
child.on('exit', (code, signal) => {
  process.exit(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
});
