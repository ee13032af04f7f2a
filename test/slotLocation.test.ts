// Where slots live: outside the target's .git, under the tool's home, one folder per repository. A slot
// left in the old place (inside .git) by an earlier version is removed once no live process holds it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Repo } from '../store/git';
import { homePath } from '../system/home';
import { slotsBase } from '../store/runDirectory';
import { claimSlot } from '../training/slot';
import { makeFakeTarget, makeTarget } from './support/fakeTarget';

describe('slot location', () => {
  it('is under the tool home, outside the git directory, and apart for two repositories of one name', async () => {
    const a = await Repo.open(await makeFakeTarget());
    const b = await Repo.open(await makeTarget({ 'train.py': 'x = 1\n' }));
    const slotA = claimSlot(a, 'gpu0');
    const slotB = claimSlot(b, 'gpu0');
    for (const [repo, slot] of [
      [a, slotA],
      [b, slotB],
    ] as const) {
      assert.ok(slot.dir.startsWith(slotsBase() + path.sep), slot.dir);
      assert.ok(!slot.dir.startsWith(realpathSync(repo.commonDir)), slot.dir);
      assert.equal(slot.worktree, path.join(slot.dir, 'worktree'));
      for (const own of [slot.pidFile, slot.setupMarker, slot.setupLog])
        assert.equal(path.dirname(own), slot.dir, 'beside the worktree, not in it');
    }
    assert.notEqual(slotA.dir, slotB.dir);
    assert.match(
      path.basename(path.dirname(slotA.dir)),
      new RegExp(`^${path.basename(a.root)}-[0-9a-f]{12}$`),
    );
  });

  it("lives under the tool's home unless AUTORESEARCH_SLOTS_DIR names another folder (a fast local disk)", async () => {
    const saved = process.env.AUTORESEARCH_SLOTS_DIR;
    try {
      delete process.env.AUTORESEARCH_SLOTS_DIR;
      assert.equal(slotsBase(), homePath('slots'));
      const elsewhere = mkdtempSync(path.join(tmpdir(), 'ar-slots-'));
      process.env.AUTORESEARCH_SLOTS_DIR = elsewhere;
      const repo = await Repo.open(await makeFakeTarget());
      const slot = claimSlot(repo, 'gpu0');
      assert.ok(slot.dir.startsWith(elsewhere + path.sep), slot.dir);
    } finally {
      if (saved === undefined) delete process.env.AUTORESEARCH_SLOTS_DIR;
      else process.env.AUTORESEARCH_SLOTS_DIR = saved;
    }
  });

  it('removes a slot an earlier version left inside .git, unless a live process holds it', async () => {
    const repo = await Repo.open(await makeFakeTarget());
    const legacy = (name: string) => path.join(repo.commonDir, 'autoresearch', 'slots', name);
    // gpu0: left by a dead worker (its lock names a pid that is gone).
    mkdirSync(path.join(legacy('gpu0'), 'worktree'), { recursive: true });
    writeFileSync(path.join(legacy('gpu0'), 'lock'), '999999999 gpu0');
    const slot = claimSlot(repo, 'gpu0');
    assert.equal(slot.name, 'gpu0');
    assert.ok(!existsSync(legacy('gpu0')), 'the abandoned slot is gone');

    // gpu1: an earlier worker still trains there. Its slot stays, and this worker takes another name.
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      mkdirSync(path.join(legacy('gpu1'), 'worktree'), { recursive: true });
      writeFileSync(path.join(legacy('gpu1'), 'lock'), `${other.pid} gpu1`);
      const taken = claimSlot(repo, 'gpu1');
      assert.equal(taken.name, 'gpu1-1', 'a slot held in the old place is not shared');
      assert.ok(existsSync(path.join(legacy('gpu1'), 'worktree')), 'a live slot is left alone');
    } finally {
      other.kill('SIGKILL');
    }
    rmSync(legacy('gpu1'), { recursive: true, force: true });
  });
});
