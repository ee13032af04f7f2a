// A training whose worker died (and took its supervisor with it, e.g. a reboot of the worker's container
// while the GPU box stayed up) is found through the slot's pid file and its process group killed before
// the slot trains again; a stale pid file never kills an unrelated program.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { after, describe, it } from 'node:test';
import { Repo } from '../store/git';
import { claimSlot, reapLeftoverTraining } from '../training/slot';
import { makeFakeTarget } from './support/fakeTarget';
import { isRunning } from './support/processes';
import { waitFor } from './support/waitFor';

describe('orphaned training processes', () => {
  const children: ChildProcess[] = [];
  const sleeper = (cwd: string) => {
    // A group of its own, as the supervisor makes for every training: a shell and its child.
    const child = spawn('/bin/sh', ['-c', 'sleep 300 & wait'], { cwd, detached: true, stdio: 'ignore' });
    children.push(child);
    return child;
  };
  after(() => {
    for (const c of children) if (c.pid && isRunning(c.pid)) process.kill(-c.pid, 'SIGKILL');
  });

  it('kills the group a dead worker left in a slot before the slot is used again', async () => {
    const repo = await Repo.open(await makeFakeTarget());
    const slot = claimSlot(repo, 'gpu0');
    mkdirSync(slot.worktree, { recursive: true });
    const orphan = sleeper(slot.worktree);
    writeFileSync(slot.pidFile, String(orphan.pid));
    // The worker that held the slot is gone: its lock names a process that has exited.
    const dead = spawn('true');
    await new Promise((r) => dead.on('exit', r));
    writeFileSync(`${slot.dir}/lock`, String(dead.pid));

    const again = claimSlot(repo, 'gpu0');
    assert.equal(again.name, 'gpu0', 'the dead worker’s slot is taken over');
    await waitFor('the orphaned group to die', () => (isRunning(orphan.pid!) ? undefined : true));
    assert.equal(existsSync(slot.pidFile), false);
    assert.equal(readFileSync(`${slot.dir}/lock`, 'utf8'), `${process.pid} gpu0`);
  });

  it('leaves alone a process group that does not work in the slot (a stale pid file)', async () => {
    const repo = await Repo.open(await makeFakeTarget());
    const slot = claimSlot(repo, 'gpu0');
    const stranger = sleeper(tmpdir());
    writeFileSync(slot.pidFile, String(stranger.pid));
    reapLeftoverTraining(slot);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(isRunning(stranger.pid!), true, 'an unrelated program is never killed');
    assert.equal(existsSync(slot.pidFile), false, 'the stale pid file is gone');
  });
});
