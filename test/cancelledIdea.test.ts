// An idea queued by the operator whose experiment `pause --now` cancelled goes back to the queue and,
// after `resume`, trains under a new number: its cancelled candidate is set aside (cancelled/<n>), so the
// same edit is not refused as "tried already". In a file of its own: the steering file's tests already
// fill the test runner's per-file time on a loaded machine.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { startRun } from '../client';
import { readRecords } from '../store/runDirectory';
import type { RunSummary } from '../common/types';
import { queueUpdate, statusQuery } from '../workflows/messages';
import { autoresearch as runAutoresearch } from './support/commandLines';
import { git, holdTraining, makeFakeTarget } from './support/fakeTarget';
import { assertRunInvariants, checkoutState } from './support/invariants';
import { useHarness } from './support/temporal';
import { waitFor } from './support/waitFor';

describe('a cancelled idea', () => {
  const h = useHarness('cancelled-idea');
  const autoresearch = (args: string[]) => runAutoresearch(h.address, args);

  it('a queued idea cancelled by pause --now trains after resume; its candidate moves to cancelled/<n>', async () => {
    // The queued idea's training says it started, then waits for a file the test writes: no timing.
    const hold = holdTraining('LEARNING_RATE == 0.05');
    const repo = await makeFakeTarget({ extra: hold.code });
    const checkout = await checkoutState(repo);
    const IDEA = 'LEARNING_RATE=0.05';
    const handle = await startRun(h.client, {
      repo,
      tag: 'again',
      heartbeatTimeoutSeconds: 5,
      pipeline: false,
      ...h.queues,
    });
    await handle.executeUpdate(queueUpdate, { args: [IDEA] });
    await waitFor("the queued idea's training to start", () => (existsSync(hold.started) ? true : undefined));
    await autoresearch(['pause', '--now', '--tag', 'again']);
    const paused = await waitFor('the run to pause with the idea cancelled', async () => {
      const s = await handle.query(statusQuery);
      return s.phase === 'paused' && s.recent.at(-1)?.status === 'cancelled' ? s : undefined;
    });
    assert.deepEqual(paused.queue, [IDEA], 'the cancelled idea is back in the queue');

    hold.release();
    await autoresearch(['resume', '--tag', 'again']);
    const runDir = path.join(repo, '.git/autoresearch/runs/again');
    const tried = await waitFor('the idea to train after resume', () =>
      readRecords(runDir).find((r) => r.idea === IDEA && r.status !== 'cancelled'),
    );
    await autoresearch(['stop', '--tag', 'again']);
    const summary = (await handle.result()) as RunSummary;
    const cancelled = readRecords(runDir).find((r) => r.idea === IDEA && r.status === 'cancelled')!;
    assert.ok(
      ['keep', 'discard'].includes(tried.status),
      `the idea trained after resume, yet: ${tried.status}: ${tried.reason}`,
    );
    assert.equal(tried.metric, 0.38, 'LEARNING_RATE 0.05 scores |0.05 - 0.02| * 10 + |16 - 24| / 100');
    const tree = (commit: string) => git(repo, ['rev-parse', `${commit}^{tree}`]);
    assert.equal(await tree(tried.commit), await tree(cancelled.commit), 'the same edit, trained this time');
    assert.equal(
      await git(repo, ['rev-parse', `refs/autoresearch/again/cancelled/${cancelled.n}`]),
      cancelled.commit,
      'the cancelled candidate stays reachable, out of the way of "tried already"',
    );
    await assert.rejects(git(repo, ['rev-parse', '--verify', `refs/autoresearch/again/exp/${cancelled.n}`]));
    await assertRunInvariants(repo, 'again', summary, checkout);
  });
});
