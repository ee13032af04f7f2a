// The git side of a long run costs the same at experiment 10,000 as at 100: the "tried before" check
// reads a run's candidate refs through for-each-ref (never one argument per ref: at about 43,000 refs a
// command line passes the kernel's limit), and housekeeping packs the refs and loose objects that every
// experiment leaves, without losing one a ref needs.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { candidateRef, candidateRefPrefix } from '../common/names';
import { Repo } from '../store/git';
import { recordExperiment } from '../activities/record';
import type { ExperimentRecord } from '../common/types';
import {
  gitHousekeeping,
  HOUSEKEEPING_EVERY,
  housekeepingInFlight,
  looseObjects,
} from '../store/housekeeping';
import { git, makeTarget } from './support/fakeTarget';
import { candidateRefs, commits } from './support/gitObjects';

async function treesOf(repo: Repo, shas: string[]): Promise<Set<string>> {
  return new Set(await Promise.all(shas.map((sha) => repo.treeOf(sha))));
}

describe('git cost per experiment stays flat', () => {
  it('reads the trees of 50,000 candidate refs (past the command-line limit)', async () => {
    const repo = await Repo.open(
      await makeTarget({ 'train.py': "print('val_loss: 1.0')\n" }, 'ar-flat-refs-'),
    );
    const shas = await commits(repo, 5);
    await candidateRefs(repo, 'many', shas, 50_000);
    const timed = async () => {
      const started = Date.now();
      const trees = await repo.treesUnder([candidateRefPrefix('many')]);
      return { trees, seconds: (Date.now() - started) / 1000 };
    };
    const loose = await timed();
    assert.deepEqual(loose.trees, await treesOf(repo, shas));
    await gitHousekeeping(repo);
    const packed = await timed();
    assert.deepEqual(packed.trees, loose.trees);
    console.log(
      `treesUnder over 50,000 refs: ${loose.seconds.toFixed(2)} s loose, ${packed.seconds.toFixed(2)} s packed`,
    );
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
    assert.equal(
      existsSync(path.join(repo.commonDir, candidateRef('gc', 2999))),
      false,
      'the loose ref is gone',
    );

    // Every candidate still resolves to its commit, and its tree and files are there.
    assert.deepEqual(await repo.treesUnder([candidateRefPrefix('gc')]), await treesOf(repo, shas));
    for (const n of [0, 1, 1499, 2999])
      assert.equal(await repo.readRef(candidateRef('gc', n)), shas[n % shas.length]);
    assert.equal(await git(repo.root, ['fsck', '--connectivity-only', '--no-progress']), '');
  });

  it('runs a round in the background after every hundredth record, and the record does not wait for it', async () => {
    const root = await makeTarget({ 'train.py': "print('val_loss: 1.0')\n" }, 'ar-flat-record-');
    const repo = await Repo.open(root);
    const shas = await commits(repo, 50);
    await candidateRefs(repo, 'rec', shas, 500);
    const record: ExperimentRecord = {
      n: HOUSEKEEPING_EVERY,
      parent: shas[0]!,
      commit: shas[1]!,
      description: 'an edit',
      status: 'discard',
      metric: 1,
      trainSeconds: 1,
      startedAt: 0,
      finishedAt: 1,
    };
    const runDir = mkdtempSync(path.join(tmpdir(), 'ar-flat-rundir-'));
    const input = { repo: root, runDir, branch: 'autoresearch/rec', record, previousBest: shas[0]! };
    await recordExperiment({ ...input, record: { ...record, n: HOUSEKEEPING_EVERY - 1 } });
    assert.equal(housekeepingInFlight(root), undefined, 'no round before the cadence');
    await recordExperiment(input);
    const round = housekeepingInFlight(root);
    assert.ok(round, 'the record returned with the round still running');
    await round;
    assert.ok((await looseObjects(repo)).count < 10);
    assert.ok(
      readFileSync(path.join(repo.commonDir, 'packed-refs'), 'utf8').includes(candidateRef('rec', 499)),
    );
  });

  it("never fails a ref's compare-and-swap that runs beside a round", async () => {
    const repo = await Repo.open(
      await makeTarget({ 'train.py': "print('val_loss: 1.0')\n" }, 'ar-flat-race-'),
    );
    const shas = await commits(repo, 30);
    await candidateRefs(repo, 'race', shas, 2_000);
    await repo.createRef('refs/heads/autoresearch/race', shas[0]!);
    const moves = (async () => {
      for (let i = 1; i < shas.length; i++) {
        await repo.moveRef('refs/heads/autoresearch/race', shas[i]!, shas[i - 1]!);
        await repo.createRef(candidateRef('race', 2_000 + i), shas[i]!);
      }
    })();
    const rounds = (async () => {
      for (let k = 0; k < 3; k++) assert.deepEqual((await gitHousekeeping(repo)).skipped, []);
    })();
    await Promise.all([moves, rounds]);
    assert.equal(await repo.readRef('refs/heads/autoresearch/race'), shas.at(-1));
    assert.equal(await repo.readRef(candidateRef('race', 2_000 + shas.length - 1)), shas.at(-1));
  });
});
