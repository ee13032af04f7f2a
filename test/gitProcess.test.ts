// git as the record store runs it (store/gitProcess.ts): output whole, failures in git's own words.
// (What a quiet command costs is the bench's to measure, not a test's: no verdict here depends on speed.)
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Repo } from '../store/git';
import { GitError, runGit } from '../store/gitProcess';
import { git, makeFakeTarget } from './support/fakeTarget';

const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };

describe('running git', () => {
  it("answers its stdout, and a failure with git's own message", async () => {
    const repo = await makeFakeTarget();
    const head = await git(repo, ['rev-parse', 'HEAD']);
    assert.equal(await runGit(repo, ['rev-parse', 'HEAD'], env), `${head}\n`, 'the output as git wrote it');
    await assert.rejects(runGit(repo, ['rev-parse', '--verify', 'no-such-ref'], env), (err: unknown) => {
      assert.ok(err instanceof GitError);
      assert.match(err.message, /fatal: Needed a single revision/);
      assert.equal(err.exitCode, 128);
      return true;
    });
    // Non-zero in silence is an answer, not a failure (a missing ref read with --quiet).
    assert.equal(await runGit(repo, ['rev-parse', '--verify', '--quiet', 'no-such-ref'], env), '');
    await assert.rejects(
      runGit(path.join(mkdtempSync(path.join(tmpdir(), 'ar-gone-')), 'gone'), ['status'], env),
    );
  });
});

describe('who starts git', () => {
  it('a small helper process, never the worker itself (a fork copies the whole worker, on its event loop)', async () => {
    const repo = await makeFakeTarget();
    // An alias that prints git's own /proc stat: its fourth field is who started git.
    const stat = await runGit(repo, ['-c', 'alias.whostarted=!cat /proc/$PPID/stat', 'whostarted'], env);
    const starter = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    assert.ok(starter > 0, stat);
    assert.notEqual(starter, process.pid, 'git was forked from the worker');
    const helper = readFileSync(`/proc/${starter}/cmdline`, 'utf8').split('\0');
    assert.match(helper[1] ?? '', /spawnHelper\.js$/, `started by ${helper.join(' ')}`);
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${starter}/status`, 'utf8'))?.[1]);
    assert.ok(rss < 150_000, `the helper stays small: ${rss} kB`);
  });

  it("a command Node refuses to start (a NUL byte in an argument) fails alone, in Node's words", async () => {
    const repo = await makeFakeTarget();
    await assert.rejects(runGit(repo, ['rev-parse', 'HEAD\0x'], env), /must be a string without null bytes/);
    const head = await git(repo, ['rev-parse', 'HEAD']);
    assert.equal(await runGit(repo, ['rev-parse', 'HEAD'], env), `${head}\n`, 'the next command runs');
  });
});

describe('worktree administration', () => {
  it('waits out another worktree that is still being made', async () => {
    const target = await makeFakeTarget();
    const repo = await Repo.open(target);
    // What another process's `git worktree add` leaves for a moment: an admin folder not yet written.
    const half = path.join(repo.commonDir, 'worktrees', 'half-made');
    mkdirSync(half, { recursive: true });
    writeFileSync(path.join(half, 'gitdir'), path.join(tmpdir(), 'ar-elsewhere', '.git') + '\n');
    writeFileSync(path.join(half, 'commondir'), '');
    setTimeout(() => rmSync(half, { recursive: true, force: true }), 150);
    const scratch = mkdtempSync(path.join(tmpdir(), 'ar-worktrees-'));
    await repo.worktree(['add', '--detach', path.join(scratch, 'first'), 'HEAD']);
    const listed = await git(target, ['worktree', 'list', '--porcelain']);
    assert.equal(listed.split('\n').filter((l) => l.startsWith('worktree ')).length, 2);
  });
});
