// Steering a live run the way an operator does: with the stock `temporal` CLI (no project code on the
// sending side) and with `autoresearch pause --now | queue | limits`. What the proposer received is read
// back from what it was given, not from the workflow's own state.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { startRun, workflowIdFor } from '../client';
import { readRecords } from '../store/runDirectory';
import type { RunStatus, RunSummary } from '../common/types';
import { limitsUpdate, queueUpdate, statusQuery } from '../workflows/messages';
import { autoresearch as runAutoresearch, temporal as runTemporal } from './support/commandLines';
import { makeFakeTarget, makeGate, makeTarget } from './support/fakeTarget';
import { assertRunInvariants, checkoutState } from './support/invariants';
import { isRunning, trainingProcesses } from './support/processes';
import { useHarness } from './support/temporal';
import { waitFor } from './support/waitFor';

describe('steering a live run', () => {
  const h = useHarness('steering');

  const temporal = (args: string[]) => runTemporal(h.address, args);
  const autoresearch = (args: string[]) => runAutoresearch(h.address, args);
  /** A stock-CLI update of the run `tag`; resolves with what it answered. */
  const stockUpdate = (tag: string, name: string, input: string) =>
    temporal(['workflow', 'update', 'execute', '-w', workflowIdFor(tag), '--name', name, '--input', input]);
  async function stockStatus(tag: string): Promise<RunStatus> {
    const out = await temporal([
      'workflow',
      'query',
      '-w',
      workflowIdFor(tag),
      '--type',
      'status',
      '-o',
      'json',
    ]);
    return (JSON.parse(out) as { queryResult: RunStatus[] }).queryResult[0]!;
  }

  it('pauses, redirects and reads status with the stock temporal CLI; the note reaches the next proposal', async () => {
    const repo = await makeFakeTarget({ sleepSeconds: 1 });
    const checkout = await checkoutState(repo);
    // A stand-in coding agent: saves the prompt it was given, then sets LEARNING_RATE to 0.0<n>.
    const prompts = mkdtempSync(path.join(tmpdir(), 'ar-prompts-'));
    const agent =
      `cp "$AUTORESEARCH_PROMPT_FILE" "${prompts}/exp-$AUTORESEARCH_EXPERIMENT.md" && ` +
      `sed -i "s/^LEARNING_RATE = [0-9.]* /LEARNING_RATE = 0.0$AUTORESEARCH_EXPERIMENT /" train.py && ` +
      'echo "LR 0.0$AUTORESEARCH_EXPERIMENT" > "$AUTORESEARCH_DESCRIPTION_FILE"';
    const handle = await startRun(h.client, {
      repo,
      tag: 'stock',
      // One proposal after the other: each prompt sees every result before it (pipelining would
      // propose the next experiment before the current one is scored).
      pipeline: false,
      proposer: 'command',
      command: { command: h.allowAgent(agent), timeoutSeconds: 30 },
      ...h.queues,
    });
    const id = workflowIdFor('stock');
    await waitFor('experiment 1 to finish', async () => {
      const s = await handle.query(statusQuery);
      return s.experimentsDone >= 2 ? s : undefined;
    });

    await temporal(['workflow', 'signal', '-w', id, '--name', 'pause']);
    const paused = await waitFor('the run to pause', async () => {
      const s = await stockStatus('stock');
      return s.phase === 'paused' ? s : undefined;
    });
    const NOTE = 'focus on the learning rate schedule';
    const answer = await stockUpdate('stock', 'redirect', JSON.stringify(NOTE));
    assert.match(answer, /focus on the learning rate schedule/, 'the update answers the notes');
    await assert.rejects(
      stockUpdate('stock', 'redirect', '"  "'),
      /redirect note is empty/,
      'the validator rejects an empty note',
    );
    const IDEA = 'try a cosine learning rate decay';
    await stockUpdate('stock', 'queue', JSON.stringify(IDEA));
    const status = await stockStatus('stock');
    assert.deepEqual(status.notes, [NOTE], 'the rejected note was not recorded');
    assert.deepEqual(status.queue, [IDEA]);
    assert.equal(status.experimentsDone, paused.experimentsDone, 'nothing ran while paused');

    await temporal(['workflow', 'signal', '-w', id, '--name', 'resume']);
    await waitFor('an experiment after resume', async () => {
      const s = await stockStatus('stock');
      return s.experimentsDone > paused.experimentsDone ? s : undefined;
    });
    await temporal(['workflow', 'signal', '-w', id, '--name', 'stop']);
    const summary = (await handle.result()) as RunSummary;
    assert.equal(summary.reason, 'stopped');
    await assertRunInvariants(repo, 'stock', summary, checkout);

    // Proposals made before the note did not see it; the first one after it did.
    const firstAfter = paused.experimentsDone;
    const seen = readdirSync(prompts).map(
      (f) => [Number(/\d+/.exec(f)![0]), readFileSync(path.join(prompts, f), 'utf8')] as const,
    );
    for (const [n, prompt] of seen)
      assert.equal(prompt.includes(NOTE), n >= firstAfter, `experiment ${n}'s prompt`);
    assert.ok(
      seen.some(([n]) => n === firstAfter),
      `experiment ${firstAfter} was proposed after the note`,
    );
    const next = seen.find(([n]) => n === firstAfter)![1];
    assert.match(next, /queued this idea for this experiment[^\n]*\n+try a cosine learning rate decay/);
    const records = readRecords(path.join(repo, '.git/autoresearch/runs/stock'));
    assert.equal(records[firstAfter]!.idea, IDEA);
    assert.equal(records.filter((r) => r.idea).length, 1, 'the idea left the queue once tried');
  });

  it('pause --now cancels the training in flight and records it as cancelled; resume goes on', async () => {
    // The baseline is quick; every edit of it trains for an hour (its hard timeout is two), so only a
    // cancel ends it while the test runs, however slow the machine.
    const repo = await makeFakeTarget({
      extra: 'if LEARNING_RATE != 0.01 or WIDTH != 16:\n    time.sleep(3600)',
      timeoutSeconds: 7200,
    });
    // A short heartbeat timeout: cancellation reaches training with its next heartbeat.
    // One step at a time: this test is about what pause --now does to the training in flight. (Pipelined,
    // it failed once in CI on a loaded machine at the second pause, without a cause found yet: the wait
    // below now reports the last status when it times out.)
    const handle = await startRun(h.client, {
      repo,
      tag: 'now',
      heartbeatTimeoutSeconds: 5,
      pipeline: false,
      ...h.queues,
    });
    const training = await waitFor('experiment 1 to train', async () => {
      const s = await handle.query(statusQuery);
      return s.phase === 'training' && s.currentExperiment === 1 ? s : undefined;
    });
    const pid = await waitFor('the training process', () => trainingPid(repo));
    assert.match(await autoresearch(['pause', '--now', '--tag', 'now']), /pause --now sent/);
    // Paused at all means cancelled: the training would otherwise hold the run for an hour.
    const paused = await waitFor('the run to pause', async () => {
      const s = await handle.query(statusQuery);
      return s.phase === 'paused' ? s : undefined;
    });
    assert.equal(isRunning(pid), false, 'the training process is gone before the run records the cancel');
    assert.equal(paused.counts.cancelled, 1);
    assert.equal(paused.recent.at(-1)?.n, training.currentExperiment);
    assert.equal(paused.recent.at(-1)?.status, 'cancelled');

    // Resume starts experiment 2; cancel that one too (from the stock CLI), then stop the paused run.
    await autoresearch(['resume', '--tag', 'now']);
    await waitFor('experiment 2 to train', async () => {
      const s = await handle.query(statusQuery);
      return s.phase === 'training' && s.currentExperiment === 2 ? s : undefined;
    });
    // The same from the stock CLI.
    await temporal([
      'workflow',
      'signal',
      '-w',
      workflowIdFor('now'),
      '--name',
      'pause',
      '--input',
      '{"now": true}',
    ]);
    let last: RunStatus | undefined;
    await waitFor('the second pause', async () => {
      last = await handle.query(statusQuery);
      return last.phase === 'paused' ? true : undefined;
    }).catch((err: Error) => {
      // Say where it stood, for whoever reads a failure.
      throw new Error(
        `${err.message}; last status: ${JSON.stringify({ ...last, recent: last?.recent.slice(-3) })}`,
      );
    });
    await autoresearch(['stop', '--tag', 'now']);
    const summary = (await handle.result()) as RunSummary;
    assert.equal(summary.reason, 'stopped');
    const records = readRecords(path.join(repo, '.git/autoresearch/runs/now'));
    assert.deepEqual(
      records.map((r) => [r.n, r.status]),
      [
        [0, 'keep'],
        [1, 'cancelled'],
        [2, 'cancelled'],
      ],
    );
    const tsv = readFileSync(path.join(repo, '.git/autoresearch/runs/now/results.tsv'), 'utf8');
    assert.match(tsv.split('\n')[2]!, /\tcrash\t/, "results.tsv stays in autoresearch's three statuses");
  });

  it('queue tries an idea next; limits change the end of a live run; both refuse bad input', async () => {
    // Every training waits at a gate the test opens: nothing finishes while the CLI calls below run,
    // however slow the machine (a margin of experiments "finishing meanwhile" failed on a slow one).
    const gate = makeGate();
    const repo = await makeFakeTarget({ gate, timeoutSeconds: 3600 });
    const handle = await startRun(h.client, { repo, tag: 'plan', seed: 1, noiseRuns: 1, ...h.queues });
    const status = () => handle.query(statusQuery);
    await waitFor('the baseline to train', async () => {
      const s = await status();
      return s.inFlight.some((a) => a.n === 0 && a.phase === 'training') ? s : undefined;
    });
    // Queued while the baseline trains: it is tried first, on the baseline (ahead of the proposal made
    // meanwhile).
    assert.deepEqual(await handle.executeUpdate(queueUpdate, { args: ['LEARNING_RATE=0.02'] }), [
      'LEARNING_RATE=0.02',
    ]);
    await assert.rejects(
      autoresearch(['queue', 'use RMSNorm', '--tag', 'plan']),
      /cannot read prose.*LEARNING_RATE=0\.01/s,
    );
    // The baseline finishes; the next experiment trains (and waits at the gate) while WIDTH is queued.
    gate.release();
    await waitFor('an experiment after the baseline to train', async () => {
      const s = await status();
      return s.experimentsDone === 1 && s.inFlight.some((a) => a.phase === 'training') ? s : undefined;
    });
    assert.match(await autoresearch(['queue', 'WIDTH=24', '--tag', 'plan']), /queued: .*"WIDTH=24"/);
    const s = await status();
    // The numbers claimed after the baseline: those in flight (training, proposing, or made ahead).
    const started = s.experimentsDone - 1 + s.inFlight.length;
    const max = started + 2; // and two more of the proposer's own
    await assert.rejects(autoresearch(['limits', '--tag', 'plan']), /say what to change/);
    await assert.rejects(autoresearch(['limits', '--tag', 'plan', '--deadline', 'soon']), /ISO date-time/);
    await assert.rejects(
      autoresearch(['limits', '--tag', 'plan', '--max-experiments', '0']),
      new RegExp(`the run refused: maxExperiments 0 is below the ${started} experiments already started`),
    );
    assert.match(
      await autoresearch(['limits', '--tag', 'plan', '--max-experiments', String(max)]),
      new RegExp(`max experiments ${max}`),
    );
    assert.equal((await status()).experimentsDone, s.experimentsDone, 'nothing finished meanwhile');
    gate.open();
    const summary = (await handle.result()) as RunSummary;
    assert.equal(summary.reason, 'max-experiments');
    assert.equal(summary.experimentsDone, max + 1);
    const records = readRecords(path.join(repo, '.git/autoresearch/runs/plan'));
    const first = records.slice(1).sort((a, b) => a.startedAt - b.startedAt)[0]!;
    assert.deepEqual(
      [first.idea, first.description, first.status, first.parent],
      ['LEARNING_RATE=0.02', 'raise LEARNING_RATE 0.01 -> 0.02 (queued idea)', 'keep', records[0]!.commit],
      'the first queued idea ran first, on the baseline (0.02 is the fake target optimum)',
    );
    const width = records.find((r) => r.idea === 'WIDTH=24');
    assert.ok(width, 'the idea queued from the CLI ran');
    assert.match(width.description, /^raise WIDTH \d+ -> 24 \(queued idea\)$/);
    const before = records.filter((r) => !r.idea && r.startedAt < width.startedAt).length;
    // What had started when it was queued (the baseline), and nothing more.
    assert.equal(before, s.experimentsDone, 'it ran next, before the proposer’s own ideas');
  });

  it('a mutate proposer out of ideas pauses the run; a queued value lets it go on', async () => {
    // One knob with three neighbours, and a flat metric: nothing is ever kept, so ideas run out fast.
    const repo = await makeTarget({
      'train.py': 'KNOB = 3\nprint("---")\nprint("val_bpb: 1.0")\n',
      'prepare.py': '# frozen\n',
      'program.md': '# program\n',
      'autoresearch.toml': '[train]\ncommand = "python3 train.py"\nsetup = []\ntimeout_seconds = 30\n',
    });
    const handle = await startRun(h.client, { repo, tag: 'knob', ...h.queues });
    // Paused with nothing left in flight (the experiment training when the proposer gave up finished).
    const outOfIdeas = async () => {
      const s = await handle.query(statusQuery);
      return s.phase === 'paused' && s.pausedReason ? s : undefined;
    };
    const paused = await waitFor('the proposer to run out of ideas', outOfIdeas);
    assert.match(paused.pausedReason!, /found no untried edit.*autoresearch queue NAME=value/s);
    assert.equal(paused.experimentsDone, 4, 'the baseline and the three neighbours of KNOB = 3');

    await autoresearch(['queue', 'KNOB=7', '--tag', 'knob']);
    await autoresearch(['resume', '--tag', 'knob']);
    let last: RunStatus | undefined;
    const again = await waitFor('the queued value to run and the run to pause again', async () => {
      last = await handle.query(statusQuery);
      const s = await outOfIdeas();
      return s && s.experimentsDone === 5 ? s : undefined;
    }).catch((err: Error) => {
      throw new Error(
        `${err.message}; last status: ${JSON.stringify({ ...last, recent: last?.recent.slice(-3) })}`,
      );
    });
    assert.equal(again.recent.at(-1)?.description, 'raise KNOB 3 -> 7 (queued idea)');
    await autoresearch(['stop', '--tag', 'knob']);
    const summary = (await handle.result()) as RunSummary;
    assert.equal(summary.reason, 'stopped');
    assert.equal(summary.experimentsDone, 5, 'nothing was lost while out of ideas');
  });

  it('a deadline ends the run after the experiment in flight', async () => {
    // The experiment in flight waits at a gate until the deadline has passed: the deadline falls while
    // it trains, however slow the machine (a deadline fixed at the start could pass before the baseline).
    const gate = makeGate();
    const repo = await makeFakeTarget({ gate, timeoutSeconds: 3600 });
    gate.release(); // the baseline
    const handle = await startRun(h.client, { repo, tag: 'deadline', noiseRuns: 1, ...h.queues });
    await waitFor('experiment 1 to train', async () => {
      const s = await handle.query(statusQuery);
      return s.experimentsDone === 1 && s.inFlight.some((a) => a.n === 1 && a.phase === 'training')
        ? s
        : undefined;
    });
    // A deadline a moment ahead; one the run refuses as passed already (a slow round trip) is sent again.
    let deadline: Date | undefined;
    while (!deadline) {
      const soon = new Date(Date.now() + 2000);
      await handle.executeUpdate(limitsUpdate, { args: [{ deadline: soon.toISOString() }] }).then(
        () => (deadline = soon),
        (err: Error) => assert.match(String(err.cause ?? err.message), /has passed already/),
      );
    }
    const passed = deadline.getTime();
    await waitFor('the deadline to pass', () => (Date.now() > passed ? true : undefined));
    gate.open();
    const summary = (await handle.result()) as RunSummary;
    assert.equal(summary.reason, 'deadline');
    assert.equal(summary.experimentsDone, 2, 'the baseline and the experiment in flight, nothing after');
    const records = readRecords(path.join(repo, '.git/autoresearch/runs/deadline'));
    assert.deepEqual(
      records.map((r) => r.n),
      [0, 1],
    );
    const lastStart = Math.max(...records.map((r) => r.startedAt));
    assert.ok(lastStart < passed, 'no experiment started after the deadline');
  });
});

/** The pid of this target's training process: a `python3 train.py` working in one of its slots. */
function trainingPid(repo: string): number | undefined {
  const pids = trainingProcesses(repo).filter((pid) =>
    readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('python3\0train.py'),
  );
  return pids.length === 1 ? pids[0] : undefined;
}
