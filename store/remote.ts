// Several machines share a target through a git remote (a bare repository every worker can reach).
// The control side, which holds the target repository, publishes what training needs: the baseline and
// every candidate under the run's refs, and the research branch on keep. A training worker on any
// machine keeps a bare clone of the remote of its own and fetches the one commit it is asked to train.
import { execa } from 'execa';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { GIT_TRANSFER_TIMEOUT_SECONDS } from '../common/trainBound';
import { targetError } from '../common/errors';
import { isLockError, Repo } from './git';
import { oneAtATime } from './oneAtATime';
import { scheduleHousekeeping } from './housekeeping';
import { branchName } from '../common/names';

/** autoresearch's own namespace of refs: the only refs it force-pushes (a rebase rewrites a candidate). */
const RUN_REFS = 'refs/autoresearch/';

/** Long enough for a first fetch of a large target over a slow link; a hung connection ends here. */
const TRANSFER_TIMEOUT_MS = GIT_TRANSFER_TIMEOUT_SECONDS * 1000;
/** How long `start` waits for the remote to answer. */
const CHECK_TIMEOUT_MS = 60_000;
/** A ref lock older than this was left by a git process that died (a live one holds it for milliseconds). */
const STALE_LOCK_MS = 2 * 60_000;

/**
 * The remote as every worker should name it: URLs (`ssh://`, `https://`, `file://`) and scp-like
 * `[user@]host:path` stay as they are; a local path becomes absolute (workers run elsewhere).
 */
export function resolveRemote(remote: string): string {
  const r = remote.trim();
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(r)) return r;
  const colon = r.indexOf(':');
  const slash = r.indexOf('/');
  if (colon > 0 && (slash < 0 || colon < slash)) return r;
  return path.resolve(r);
}

/**
 * What `autoresearch start --remote` checks before the run exists: the remote answers, this machine may
 * push to it, and it holds no run of this tag yet (whose refs this run would overwrite).
 */
export async function checkRemote(repo: Repo, remote: string, tag: string): Promise<void> {
  if (!remote || remote.startsWith('-'))
    throw targetError(`--remote "${remote}" is not a git URL or path: pass e.g. git@host:target.git.`);
  const listed = await gitRemote(repo.root, ['ls-remote', remote], { timeoutMs: CHECK_TIMEOUT_MS });
  if (listed.failed)
    throw targetError(
      `The remote ${remote} does not answer (\`git ls-remote ${remote}\`: ${why(listed)}). ` +
        'Every training worker fetches the candidates from it, so it must be a git repository that this ' +
        'machine can push to and every worker can reach: create one (e.g. `git init --bare /srv/git/target.git` ' +
        "on a shared host), check the URL and this machine's access (ssh key, network), or leave out --remote " +
        'to train on this machine only.',
    );
  const ours = listed.stdout
    .split('\n')
    .map((line) => line.split('\t')[1] ?? '')
    .filter((ref) => ref === `refs/heads/${branchName(tag)}` || ref.startsWith(`${RUN_REFS}${tag}/`));
  if (ours.length > 0)
    throw targetError(
      `The remote ${remote} already holds a run tagged ${tag} (${ours.slice(0, 3).join(', ')}): each run needs ` +
        `a tag of its own there too. Start this run with a new --tag (e.g. --tag ${tag}b), or delete the old ` +
        `run's refs there (the branch ${branchName(tag)} and everything under ${RUN_REFS}${tag}/: ` +
        `\`git push ${remote} --delete <ref>...\`).`,
    );
  // A push that sends nothing still asks the server for write access (a read-only key is refused here).
  const head = (await repo.resolve('HEAD'))!;
  const probe = await gitRemote(
    repo.root,
    [
      'push',
      '--dry-run',
      '--no-verify',
      '--recurse-submodules=no',
      remote,
      `${head}:${RUN_REFS}${tag}/check`,
    ],
    { timeoutMs: CHECK_TIMEOUT_MS },
  );
  if (probe.failed)
    throw targetError(
      `This machine cannot push to the remote ${remote} (${why(probe)}): the run publishes every candidate ` +
        'there for the training workers. Use a remote you can write to, or leave out --remote.',
    );
}

/**
 * Pushes `ref` of `repo` to the same ref on `remote` (nothing when there is no remote). Idempotent: a
 * ref already there is a no-op, so a retried step pushes again safely. The run's own refs
 * (`refs/autoresearch/...`) are force-pushed, since rebasing rewrites a candidate. Anything else (the
 * research branch) moves only from `expected`, where it is given (the same compare-and-swap as the local
 * ref: a keep of a sibling, proposed on the same best as the keep before it, is not a descendant of the
 * branch), and otherwise only fast-forwards; a remote branch that went elsewhere is reported, not clobbered.
 */
export async function publishRef(
  repo: Repo,
  ref: string,
  remote: string | undefined,
  options: { expected?: string } = {},
): Promise<void> {
  if (remote === undefined) return;
  refuseOption(remote);
  const sha = await repo.readRef(ref);
  if (!sha) throw new Error(`cannot publish ${ref} to ${remote}: there is no such ref in ${repo.root}`);
  const runRef = ref.startsWith(RUN_REFS);
  const spec = `${runRef ? '+' : ''}${sha}:${ref}`;
  const lease = !runRef && options.expected ? [`--force-with-lease=${ref}:${options.expected}`] : [];
  const pushed = await withLockRetries(() =>
    gitRemote(
      repo.root,
      ['push', '--porcelain', '--no-verify', '--recurse-submodules=no', ...lease, remote, spec],
      { timeoutMs: TRANSFER_TIMEOUT_MS },
    ),
  );
  if (!pushed.failed) return;
  if (/\[rejected\]|non-fast-forward|fetch first|stale info/.test(pushed.stdout + pushed.stderr))
    throw targetError(
      `${ref} on the remote ${remote} is somewhere this run did not put it, so it was not overwritten with ` +
        `${sha.slice(0, 7)}: something else moved it. Move it back (\`git push ${remote} ${sha}:${ref}\` after ` +
        'checking what is there) or start a run with a new --tag.',
    );
  throw new Error(`could not push ${ref} to ${remote}: ${why(pushed)}`);
}

/** A training worker's own clone of `remote`, one per remote under `workdir`: bare, made on first use. */
export async function trainingClone(workdir: string, remote: string): Promise<Repo> {
  refuseOption(remote);
  const dir = path.join(path.resolve(workdir), cloneName(remote));
  if (!existsSync(path.join(dir, 'HEAD'))) {
    mkdirSync(path.dirname(dir), { recursive: true });
    // Made aside and renamed into place: two slots starting at once never see half a repository.
    const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    await gitOrThrow(undefined, ['init', '--quiet', '--bare', tmp]);
    await gitOrThrow(tmp, ['config', 'autoresearch.remote', remote]);
    try {
      renameSync(tmp, dir);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      if (!existsSync(path.join(dir, 'HEAD'))) throw err;
    }
  }
  return Repo.openBare(dir);
}

function cloneName(remote: string): string {
  const last =
    remote
      .replace(/[/\\]+$/, '')
      .split(/[/\\:]/)
      .pop() ?? '';
  const slug =
    last
      .replace(/\.git$/, '')
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .slice(0, 40) || 'remote';
  return `${slug}-${createHash('sha256').update(remote).digest('hex').slice(0, 12)}.git`;
}

/**
 * Makes `commit` present in the clone, kept under `ref` there. First by its SHA (`git fetch <remote>
 * <sha>`: protocol v2, git's default since 2.26, serves any object the remote has); if the server refuses
 * an unadvertised SHA (protocol v0 without uploadpack.allowAnySHA1InWant), by the run's refs, and the
 * SHA is then checked. Returns how it got there.
 */
export async function fetchCommit(
  clone: Repo,
  remote: string,
  commit: string,
  ref: string,
  options: { cancel?: AbortSignal } = {},
): Promise<'present' | 'by-sha' | 'by-ref'> {
  refuseOption(remote);
  if (await hasCommit(clone, commit)) return 'present';
  // Fetches in one clone run one at a time within this process; other processes are met with retries.
  return oneAtATime(`fetches ${clone.commonDir}`, () => fetchNow(clone, remote, commit, ref, options.cancel));
}

async function fetchNow(
  clone: Repo,
  remote: string,
  commit: string,
  ref: string,
  cancel: AbortSignal | undefined,
): Promise<'present' | 'by-sha' | 'by-ref'> {
  if (await hasCommit(clone, commit)) return 'present';
  const fetch = (refspec: string) =>
    withLockRetries(() =>
      gitRemote(
        clone.commonDir,
        ['fetch', '--quiet', '--no-tags', '--recurse-submodules=no', remote, refspec],
        { timeoutMs: TRANSFER_TIMEOUT_MS, cancel },
      ),
    );
  const bySha = await fetch(`+${commit}:${ref}`);
  if (!bySha.failed && (await hasCommit(clone, commit))) return fetched(clone, 'by-sha');
  // The run's refs: the candidate is published under one of them (refs/autoresearch/<tag>/...).
  const runRefs = ref.split('/').slice(0, 3).join('/');
  const byRef = await fetch(`+${runRefs}/*:${runRefs}/*`);
  if (!byRef.failed && (await hasCommit(clone, commit))) return fetched(clone, 'by-ref');
  throw new Error(
    `could not fetch commit ${commit.slice(0, 7)} from the remote ${remote} (by SHA: ${why(bySha)}; by the ` +
      `run's refs: ${byRef.failed ? why(byRef) : `no ref under ${runRefs}/ holds it`}). The machine with the ` +
      'target publishes every candidate there before it is trained: check that this worker reaches the same ' +
      'remote (`git ls-remote ' +
      `${remote}\`) and that the control worker runs with it.`,
  );
}

/** Fetches into each clone by this process: its housekeeping's cadence (every fetch leaves a ref and objects). */
const fetchesInto = new Map<string, number>();

function fetched<How extends 'by-sha' | 'by-ref'>(clone: Repo, how: How): How {
  const count = (fetchesInto.get(clone.commonDir) ?? 0) + 1;
  fetchesInto.set(clone.commonDir, count);
  scheduleHousekeeping(clone.commonDir, count, { bare: true });
  return how;
}

/** A remote is passed to git as an argument: one that reads as an option is never one. */
function refuseOption(remote: string): void {
  if (remote.startsWith('-')) throw targetError(`"${remote}" is not a git remote: pass a URL or a path.`);
}

async function hasCommit(repo: Repo, commit: string): Promise<boolean> {
  return (await repo.resolve(commit)) === commit;
}

interface GitResult {
  failed: boolean;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

/**
 * git talking to a remote: the environment it needs to authenticate (ssh agent, the user's config and
 * credential helpers) and nothing else; never a prompt (no one is there to answer it).
 */
async function gitRemote(
  cwd: string | undefined,
  args: string[],
  options: { timeoutMs?: number; cancel?: AbortSignal } = {},
): Promise<GitResult> {
  const env: Record<string, string> = { GIT_TERMINAL_PROMPT: '0' };
  for (const name of [
    'PATH',
    'HOME',
    'LANG',
    'TMPDIR',
    'XDG_CONFIG_HOME',
    'SSH_AUTH_SOCK',
    'GIT_SSH',
    'GIT_SSH_COMMAND',
    'GIT_ASKPASS',
    'SSH_ASKPASS',
  ]) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  const result = await execa('git', args, {
    cwd,
    env,
    extendEnv: false,
    stdin: 'ignore',
    reject: false,
    timeout: options.timeoutMs,
    ...(options.cancel ? { cancelSignal: options.cancel } : {}),
  });
  return {
    failed: result.failed,
    timedOut: result.timedOut,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
  };
}

async function gitOrThrow(cwd: string | undefined, args: string[]): Promise<void> {
  const result = await gitRemote(cwd, args);
  if (result.failed) throw new Error(`git ${args.join(' ')}: ${why(result)}`);
}

/**
 * Retries a git command that lost a race for a ref lock (two slots fetching, a retried push meeting the
 * first); a lock left by a git process that died is removed once it is clearly stale.
 */
async function withLockRetries(attempt: () => Promise<GitResult>): Promise<GitResult> {
  let result = await attempt();
  for (let k = 1; k <= 10 && result.failed; k++) {
    const text = result.stderr + result.stdout;
    if (!isLockError(text)) break;
    const lock = /Unable to create '([^']+\.lock)'/.exec(text)?.[1];
    if (lock && existsSync(lock) && Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS)
      rmSync(lock, { force: true });
    await sleep(100 * k + Math.floor(Math.random() * 100));
    result = await attempt();
  }
  return result;
}

/** The reason a git command failed, in one line. */
function why(result: GitResult): string {
  if (result.timedOut) return 'no answer in time';
  const lines = (result.stderr || result.stdout)
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.filter((l) => /fatal|error|rejected|denied|refused/i.test(l)).pop() ?? lines.pop() ?? 'failed';
}
