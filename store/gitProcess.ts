// Runs one git command and hands back its output. Plain child processes rather than simple-git: simple-git
// waits a fixed 50 ms after any command that prints nothing (update-ref, clean -q, a clean status, read-tree,
// update-index), which is most of what a training, a proposal and a record run, several times each.
// The rule for failures is the one the callers were written against: a command fails when it exits
// non-zero and says something on stderr (its message is what it printed, git's own words, unchanged);
// one that exits non-zero in silence (rev-parse --verify --quiet of a missing ref) answers its stdout.
import { runSmall } from '../system/smallSpawner';

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

/** `git <args>` in `cwd` with exactly `env`; resolves with its stdout. Started by the small helper. */
export async function runGit(cwd: string, args: string[], env: Record<string, string>): Promise<string> {
  const { stdout, stderr, exitCode, signal, error } = await runSmall('git', args, {
    cwd,
    env,
    maxBuffer: MAX_OUTPUT_BYTES,
  });
  if (exitCode === 0 && !signal && !error) return stdout;
  // Not started at all (no git, no such directory): nothing it printed can explain it.
  if (error && !stderr) throw error;
  if (exitCode === null && !stderr) throw new Error(`git ${args.join(' ')} was killed by ${signal}`);
  if (!stderr) return stdout;
  throw new GitError(stdout + stderr, exitCode);
}
