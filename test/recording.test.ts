// A record that cannot be written (a TargetError from the record step: here the research branch was
// moved by someone else, so its compare-and-swap fails) pauses the run with the reason, in pipelined
// mode too; once the cause is fixed, `resume` writes it and every record decided after it, in order.
import { Worker } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { readRecords } from '../store/runDirectory';
import { startRun } from '../client';
import type { RunSummary } from '../common/types';
import { workflowBundle } from '../worker';
import { resumeSignal, statusQuery, stopSignal } from '../workflows/messages';
import { git, holdTraining, makeFakeTarget } from './support/fakeTarget';
import { assertRunInvariants, checkoutState } from './support/invariants';
import { useHarness } from './support/temporal';
import { waitFor } from './support/waitFor';

describe('a record that fails', () => {
  const h = useHarness('recording');

  /**
   * A pipelined run whose experiment 1 (a keep) cannot be recorded: someone moves the research branch
   * while it trains. Resolves once the run paused with the reason.
   */
  async function runWithMovedBranch(tag: string) {
    // Experiment 1 (LR 0.012, a keep) trains until the test releases it.
    const hold = holdTraining('LEARNING_RATE == 0.012');
    const repo = await makeFakeTarget({ extra: hold.code, timeoutSeconds: 3600 });
    const agent =
      'lr=$([ "$AUTORESEARCH_EXPERIMENT" = 1 ] && echo 0.012 || echo 0.014) && ' +
      'sed -i "s/^LEARNING_RATE = [0-9.]* /LEARNING_RATE = $lr /" train.py && ' +
      'echo "LR $lr" > "$AUTORESEARCH_DESCRIPTION_FILE"';
    const checkout = await checkoutState(repo);
    const handle = await startRun(h.client, {
      repo,
      tag,
      maxExperiments: 2,
      pipeline: true,
      noiseRuns: 1,
      keepRule: 'strict',
      proposer: 'command',
      command: { command: h.allowAgent(agent), timeoutSeconds: 600 },
      ...h.queues,
    });
    await waitFor('experiment 1 to train', () => (existsSync(hold.started) ? true : undefined), 4 * 60_000);
    // Someone moves the research branch while experiment 1 trains: its keep cannot move it.
    const branch = `refs/heads/autoresearch/${tag}`;
    const baseline = await git(repo, ['rev-parse', branch]);
    const stranger = await git(repo, [
      'commit-tree',
      `${baseline}^{tree}`,
      '-p',
      baseline,
      '-m',
      'someone else',
    ]);
    await git(repo, ['update-ref', branch, stranger]);
    hold.release();

    const paused = await waitFor(
      'the run to pause with the reason its record failed',
      async () => {
        const s = await handle.query(statusQuery);
        return s.paused && s.pausedReason ? s : undefined;
      },
      4 * 60_000,
    );
    return { repo, checkout, handle, branch, baseline, paused };
  }

  it('pauses a pipelined run with the reason; resume writes it and the records after it', async () => {
    const tag = 'recfail';
    const { repo, checkout, handle, branch, baseline, paused } = await runWithMovedBranch(tag);
    assert.match(paused.pausedReason!, /experiment 1.* could not be written/i);
    assert.match(paused.pausedReason!, /something else moved the research branch/);
    // Experiment 2 (proposed ahead, already taken by the slot) finishes meanwhile: decided, and waiting
    // behind the record that failed.
    await waitFor(
      'experiment 2 to be decided while the run is paused',
      async () => {
        const s = await handle.query(statusQuery);
        return s.paused && s.inFlight.some((a) => a.n === 2 && a.phase === 'recording') ? true : undefined;
      },
      4 * 60_000,
    );
    const runDir = path.join(repo, '.git', 'autoresearch', 'runs', tag);
    assert.deepEqual(
      readRecords(runDir).map((r) => r.n),
      [0],
      'nothing after the failed record was written before it',
    );

    // The operator does what the message says, and resumes.
    await git(repo, ['update-ref', branch, baseline]);
    await handle.signal(resumeSignal);
    const summary = (await handle.result()) as RunSummary;
    const records = await assertRunInvariants(repo, tag, summary, checkout);
    assert.deepEqual(
      records.map((r) => r.n),
      [0, 1, 2],
      'every experiment recorded once',
    );
    assert.equal(records[1]!.status, 'keep');
    assert.equal(summary.experimentsDone, 3);
    // The pause (behind its patch marker) replays.
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, await handle.fetchHistory());
  });

  it('stop on such a run tries the record once more, then fails the run with the reason', async () => {
    const { handle } = await runWithMovedBranch('recstop');
    await handle.signal(stopSignal);
    await assert.rejects(handle.result(), (err: Error) => {
      const cause = (err as Error & { cause?: Error }).cause;
      assert.match(
        cause?.message ?? '',
        /^The run stopped, but experiment 1's record could not be written: .*something else moved the research branch/,
      );
      return true;
    });
  });
});
