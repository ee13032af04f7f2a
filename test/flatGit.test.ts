// The git side of a long run costs the same at experiment 10,000 as at 100: the "tried before" check
// reads a run's candidate refs through for-each-ref (never one argument per ref: at about 43,000 refs a
// command line passes the kernel's limit), and housekeeping packs the refs and loose objects that every
// experiment leaves, without losing one a ref needs.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { candidateRef, candidateRefPrefix } from '../common/names';
import { Repo } from '../store/git';
import { gitHousekeeping, looseObjects } from '../store/housekeeping';
import { git, makeTarget } from './support/fakeTarget';

/** Commits `count` edits of train.py, each on the last: what a run's candidates look like. */
async function commits(repo: Repo, count: number): Promise<string[]> {
  const made: string[] = [];
  let parent = (await repo.resolve('HEAD'))!;
  for (let i = 0; i < count; i++) {
    const tree = await repo.writeTree(parent, { 'train.py': `LR = ${i}\nprint('val_loss: 1.0')\n` });
    parent = await repo.commitTree(tree, parent, `experiment ${i}`);
    made.push(parent);
  }
  return made;
}

/** `count` candidate refs, created in one `update-ref --stdin` (seconds, where one call per ref is minutes). */
async function candidateRefs(repo: Repo, tag: string, shas: string[], count: number): Promise<void> {
  const lines = Array.from({ length: count }, (_, n) => `create ${candidateRef(tag, n)} ${shas[n % shas.length]}\n`);
  await execa('git', ['update-ref', '--stdin'], { cwd: repo.root, input: lines.join('') });
}

async function treesOf(repo: Repo, shas: string[]): Promise<Set<string>> {
  return new Set(await Promise.all(shas.map((sha) => repo.treeOf(sha))));
}

describe('git cost per experiment stays flat', () => {
  it('reads the trees of 50,000 candidate refs (past the command-line limit)', async () => {
    const repo = await Repo.open(await makeTarget({ 'train.py': "print('val_loss: 1.0')\n" }, 'ar-flat-refs-'));
    const shas = await commits(repo, 5);
    await candidateRefs(repo, 'many', shas, 50_000);
    const started = Date.now();
    const trees = await repo.treesUnder(candidateRefPrefix('many'));
    const seconds = (Date.now() - started) / 1000;
    assert.deepEqual(trees, await treesOf(repo, shas));
    console.log(`treesUnder over 50,000 loose refs: ${seconds.toFixed(2)} s`);
  });

  it('packs refs and loose objects, and every candidate still resolves', async () => {
    const repo = await Repo.open(await makeTarget({ 'train.py': "print('val_loss: 1.0')\n" }, 'ar-flat-gc-'));
    const shas = await commits(repo, 300);
    await candidateRefs(repo, 'gc', shas, 3_000);
    const before = await looseObjects(repo);
    assert.ok(before.count >= 900, `${before.count} loose objects before`);

    const done = await gitHousekeeping(repo);
    assert.deepEqual(done.skipped, []);
    const after = await looseObjects(repo);
    console.log(
      `housekeeping: ${before.count} loose objects (${before.sizeKiB} KiB) -> ${after.count} loose ` +
        `(${after.sizeKiB} KiB) + ${after.packSizeKiB} KiB packed, in ${done.seconds.toFixed(2)} s`,
    );
    assert.ok(after.count < 10, `${after.count} loose objects after`);
    const packed = readFileSync(path.join(repo.commonDir, 'packed-refs'), 'utf8');
    assert.ok(packed.includes(`${shas[2999 % shas.length]} ${candidateRef('gc', 2999)}`));
    assert.equal(existsSync(path.join(repo.commonDir, candidateRef('gc', 2999))), false, 'the loose ref is gone');

    // Every candidate still resolves to its commit, and its tree and files are there.
    assert.deepEqual(await repo.treesUnder(candidateRefPrefix('gc')), await treesOf(repo, shas));
    for (const n of [0, 1, 1499, 2999]) assert.equal(await repo.readRef(candidateRef('gc', n)), shas[n % shas.length]);
    assert.equal(await git(repo.root, ['fsck', '--connectivity-only', '--no-progress']), '');
  });
});
