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
  const answer = (fields) =>
    process.stdout.write(`${JSON.stringify({ id, stdout: '', stderr: '', ...fields })}\n`);
  let child;
  try {
    child = execFile(file, args, { cwd, env, maxBuffer, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return answer({ stdout, stderr, exitCode: 0, signal: null });
      const exitCode = typeof err.code === 'number' ? err.code : null;
      const signal = err.signal ?? null;
      // Not started (ENOENT, EACCES) or stopped for its output (maxBuffer): Node's own words and code.
      const error =
        exitCode === null && !signal
          ? { message: err.message, code: err.code ?? null, syscall: err.syscall ?? null }
          : undefined;
      answer({ stdout, stderr, exitCode, signal, ...(error ? { error } : {}) });
    });
  } catch (err) {
    // Refused before it started (an argument Node will not pass, such as one with a NUL byte): that
    // command fails with Node's words, and the helper goes on serving the others.
    return answer({
      exitCode: null,
      signal: null,
      error: { message: err.message, code: err.code ?? null, syscall: null },
    });
  }
  child.stdin?.on('error', () => {});
  if (typeof input === 'string') child.stdin?.end(input);
  else child.stdin?.end();
});
