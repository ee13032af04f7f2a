// Starts short commands (git, mostly) for the worker, which sends them here, one JSON line each on stdin,
// and reads the answers, one JSON line each on stdout, matched by id. Starting a process from Node forks
// the whole process, and a fork's cost grows with the memory it copies: a worker holding its workflows
// (hundreds of MB) spends tens of milliseconds of its event loop in each start, and a run with many slots
// starts thousands of git commands a minute. This process stays small, so each start is about a
// millisecond, and the worker's event loop never waits on one. It ends when the worker closes stdin.
// Plain JavaScript on purpose: it starts in milliseconds and needs nothing but Node itself.
import { execFile } from 'node:child_process';
import { createInterface } from 'node:readline';

const lines = createInterface({ input: process.stdin });

lines.on('line', (line) => {
  let request;
  try {
    request = JSON.parse(line);
  } catch {
    return;
  }
  const { id, file, args, cwd, env, input, maxBuffer } = request;
  const child = execFile(file, args, { cwd, env, maxBuffer, encoding: 'utf8' }, (err, stdout, stderr) => {
    const answer = { id, stdout, stderr, exitCode: 0, signal: null };
    if (err) {
      answer.exitCode = typeof err.code === 'number' ? err.code : null;
      answer.signal = err.signal ?? null;
      // Not started (ENOENT, EACCES) or stopped for its output (maxBuffer): Node's own words and code.
      if (answer.exitCode === null && !answer.signal)
        answer.error = { message: err.message, code: err.code ?? null, syscall: err.syscall ?? null };
    }
    process.stdout.write(`${JSON.stringify(answer)}\n`);
  });
  child.stdin?.on('error', () => {});
  if (typeof input === 'string') child.stdin?.end(input);
  else child.stdin?.end();
});
