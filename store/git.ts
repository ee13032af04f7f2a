// Git is the content store: candidates are commits under refs of their own, the research branch moves
// only by compare-and-swap, and files are read from commits, never from the user's working tree.
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { targetError } from '../common/errors';
import { runGit } from './gitProcess';
import { oneAtATime } from './oneAtATime';

/** The environment git runs with: just enough to find itself and the user's config, nothing else. */
export function gitEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { ...GIT_IDENTITY, ...extra };
  for (const name of ['PATH', 'HOME', 'LANG', 'TMPDIR', 'XDG_CONFIG_HOME']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** A git to run commands with: in `dir`, with the environment above (plus `extra`). */
interface Git {
  raw(args: string[]): Promise<string>;
}

function gitAt(dir: string, extra: Record<string, string> = {}): Git {
  const env = gitEnv(extra);
  return { raw: (args) => runGit(dir, args, env) };
}

/** Commits made by autoresearch carry this identity, so a machine without git user config works. */
export const GIT_IDENTITY = {
  GIT_AUTHOR_NAME: 'autoresearch',
  GIT_AUTHOR_EMAIL: 'autoresearch@localhost',
  GIT_COMMITTER_NAME: 'autoresearch',
  GIT_COMMITTER_EMAIL: 'autoresearch@localhost',
};

/** git's words for a lock another git process holds (a ref, packed-refs, the index): worth a retry. */
export function isLockError(text: string): boolean {
  return /cannot lock ref|Unable to create '[^']+\.lock'|failed to lock|unable to lock/i.test(text);
}

/** git reading another worktree's admin folder while that worktree is being made. */
const HALF_MADE_WORKTREE = /failed to read .*worktrees\/[^/\s]+\/(commondir|gitdir)/;

export class Repo {
  private constructor(
    readonly root: string,
    readonly commonDir: string,
    private readonly git: Git,
  ) {}

  /** Repositories already validated by this process: every activity opens its target, often. */
  private static opened = new Map<string, Repo>();

  /** Opens an existing non-bare repository with at least one commit, or throws a TargetError saying why not. */
  static async open(repoPath: string): Promise<Repo> {
    const root = path.resolve(repoPath);
    const cached = Repo.opened.get(root);
    if (cached && existsSync(cached.commonDir)) return cached;
    if (!existsSync(root) || !statSync(root).isDirectory())
      throw targetError(`Target ${root} does not exist: pass the path of a git repository holding train.py.`);
    const git = gitAt(root);
    let top: string;
    try {
      top = (await git.raw(['rev-parse', '--show-toplevel'])).trim();
    } catch {
      throw targetError(
        `Target ${root} is not a git repository: run \`git init && git add -A && git commit -m init\` there first.`,
      );
    }
    try {
      await git.raw(['rev-parse', '--verify', 'HEAD^{commit}']);
    } catch {
      throw targetError(
        `Target ${top} has no commits yet: commit the target's files first (git add -A && git commit).`,
      );
    }
    const commonDir = path.resolve(top, (await git.raw(['rev-parse', '--git-common-dir'])).trim());
    const repo = new Repo(top, commonDir, gitAt(top));
    Repo.opened.set(root, repo);
    return repo;
  }

  /** Opens a bare repository by its directory (a training worker's clone of the run's remote). */
  static async openBare(gitDir: string): Promise<Repo> {
    const root = path.resolve(gitDir);
    const cached = Repo.opened.get(root);
    if (cached && existsSync(cached.commonDir)) return cached;
    const git = gitAt(root);
    if ((await git.raw(['rev-parse', '--is-bare-repository'])).trim() !== 'true')
      throw new Error(`${root} is not a bare git repository`);
    const repo = new Repo(root, root, git);
    Repo.opened.set(root, repo);
    return repo;
  }

  raw(args: string[]): Promise<string> {
    return this.git.raw(args);
  }

  /**
   * `git worktree <args>` (add, prune, remove). Each reads the admin folder of every worktree of the
   * repository, which another's `add` may be writing at that moment ("failed to read
   * .git/worktrees/<name>/commondir"): within this process they run one at a time per repository (64
   * concurrent proposals met that), and one that meets another process's half-made worktree is retried.
   */
  worktree(args: string[]): Promise<string> {
    return oneAtATime(`worktrees ${this.commonDir}`, () => this.worktreeWithRetries(args));
  }

  private async worktreeWithRetries(args: string[]): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.git.raw(['worktree', ...args]);
      } catch (err) {
        if (attempt >= 5 || !HALF_MADE_WORKTREE.test((err as Error).message)) throw err;
        await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
      }
    }
  }

  /** Runs git inside one of this repository's worktrees. */
  rawIn(worktree: string, args: string[]): Promise<string> {
    return gitAt(worktree).raw(args);
  }

  async resolve(rev: string): Promise<string | null> {
    try {
      return (await this.git.raw(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`])).trim() || null;
    } catch {
      return null;
    }
  }

  async readRef(ref: string): Promise<string | null> {
    try {
      return (await this.git.raw(['rev-parse', '--verify', '--quiet', ref])).trim() || null;
    } catch {
      return null;
    }
  }

  /** Tracked files with uncommitted changes (untracked files such as results.tsv are allowed). */
  async dirtyFiles(): Promise<string[]> {
    const out = await this.git.raw(['status', '--porcelain', '--untracked-files=no']);
    return out
      .split('\n')
      .filter(Boolean)
      .map((line) => line.slice(3));
  }

  async readFile(commit: string, file: string): Promise<string | null> {
    try {
      return await this.git.raw(['show', `${commit}:${file}`]);
    } catch {
      return null;
    }
  }

  async blobSha(commit: string, file: string): Promise<string | null> {
    return this.readRef(`${commit}:${file}`);
  }

  async commitMessage(commit: string): Promise<string> {
    return (await this.git.raw(['log', '-1', '--format=%B', commit])).trim();
  }

  /** Files that differ between two commits, each with git's status letter (M, A, D, T; no renames). */
  async changes(from: string, to: string): Promise<{ status: string; file: string }[]> {
    const out = await this.git.raw(['diff', '--name-status', '--no-renames', '-z', from, to]);
    const fields = out.split('\0');
    const changes: { status: string; file: string }[] = [];
    for (let i = 0; i + 1 < fields.length; i += 2) changes.push({ status: fields[i]!, file: fields[i + 1]! });
    return changes;
  }

  /**
   * Tree SHAs of the commits under some ref prefixes: what has been tried, for de-duplication. One
   * for-each-ref reads them all (a candidate ref names a commit, whose tree `%(tree)` is): the refs never
   * go on a command line, which a run's tens of thousands of them would overflow.
   */
  async treesUnder(prefixes: string[]): Promise<Set<string>> {
    const out = await this.git.raw(['for-each-ref', '--format=%(tree)', ...prefixes]);
    return new Set(out.split('\n').filter(Boolean));
  }

  /** Creates a ref only if it does not exist yet; returns what the ref points at afterwards. */
  async createRef(ref: string, sha: string): Promise<string> {
    try {
      await this.git.raw(['update-ref', ref, sha, '']);
      return sha;
    } catch (err) {
      const existing = await this.readRef(ref);
      if (existing) return existing;
      throw err;
    }
  }

  /** Moves a ref from `expected` to `sha`, atomically; already at `sha` counts as done (a retry). */
  async moveRef(ref: string, sha: string, expected: string): Promise<void> {
    const current = await this.readRef(ref);
    if (current === sha) return;
    if (current !== expected)
      throw targetError(
        `${ref} is at ${current?.slice(0, 7) ?? 'nothing'} but this run expected ${expected.slice(0, 7)}: ` +
          'something else moved the research branch. Move it back or start a run with a new --tag.',
      );
    await this.git.raw(['update-ref', ref, sha, expected]);
  }

  /**
   * Writes the tree of `parent` with some files replaced, without touching any working tree: a private
   * index and blobs written straight into the object store. Returns the tree's SHA.
   */
  async writeTree(parent: string, files: Record<string, string>): Promise<string> {
    const scratch = mkdtempSync(path.join(tmpdir(), 'autoresearch-index-'));
    try {
      const git = gitAt(this.root, { GIT_INDEX_FILE: path.join(scratch, 'index') });
      await git.raw(['read-tree', parent]);
      for (const [file, content] of Object.entries(files)) {
        const tmp = path.join(scratch, 'blob');
        writeFileSync(tmp, content);
        const blob = (await git.raw(['hash-object', '-w', tmp])).trim();
        // Keep the file's mode (an executable script stays executable).
        const mode = (await git.raw(['ls-files', '-s', '--', file])).split(' ')[0] || '100644';
        await git.raw(['update-index', '--add', '--cacheinfo', `${mode},${blob},${file}`]);
      }
      return (await git.raw(['write-tree'])).trim();
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }

  /** Commits a tree (from writeTree) on top of `parent`; returns the new commit's SHA. */
  async commitTree(tree: string, parent: string, message: string): Promise<string> {
    return (await this.git.raw(['commit-tree', tree, '-p', parent, '-m', message])).trim();
  }

  async treeOf(commit: string): Promise<string> {
    return (await this.git.raw(['rev-parse', `${commit}^{tree}`])).trim();
  }
}
