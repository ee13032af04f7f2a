// Runs one git command and hands back its output. Plain child processes rather than simple-git: simple-git
// waits a fixed 50 ms after any command that prints nothing (update-ref, clean -q, a clean status, read-tree,
// update-index), which is most of what a training, a proposal and a record run, several times each.
// The rule for failures is the one the callers were written against: a command fails when it exits
// non-zero and says something on stderr (its message is what it printed, git's own words, unchanged);
// one that exits non-zero in silence (rev-parse --verify --quiet of a missing ref) answers its stdout.
import { execFile } from 'node:child_process';

/** git's output is read whole: a file shown from a commit can be large. */
const MAX_OUTPUT_BYTES = 1024 * 1024 * 1024;

export class GitError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
  ) {
    super(message);
    this.name = 'GitError';
  }
}

/** `git <args>` in `cwd` with exactly `env`; resolves with its stdout. */
export function runGit(cwd: string, args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      args,
      { cwd, env, maxBuffer: MAX_OUTPUT_BYTES, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const code = typeof err.code === 'number' ? err.code : null;
        // Not started at all (no git, no such directory): nothing it printed can explain it.
        if (code === null && !stderr) return reject(err);
        if (!stderr) return resolve(stdout);
        reject(new GitError(stdout + stderr, code));
      },
    );
  });
}
