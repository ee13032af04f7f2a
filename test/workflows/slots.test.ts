// Interleavings of experiments on several slots, with mocked activities (test/workflows/mocked.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BASE, Mock, sha, useMockedWorker } from './mocked';

describe('slots (mocked activities)', () => {
  const h = useMockedWorker('wf-slots');

  it('three slots finishing out of order: each decision compares with the best at its moment', async () => {
    // Lower is better: 3 beats the baseline, then 2 beats 3, then 1 (better than the baseline, not than 2).
    const metrics: Record<number, number> = { 0: 1, 1: 0.95, 2: 0.8, 3: 0.9 };
    const mock = new Mock((n) => metrics[n]!);
    mock.hold('train 1', 'train 2', 'train 3');
    const handle = await h.start(mock, { parallel: 3, maxExperiments: 3 });
    for (const n of [1, 2, 3]) await mock.seen(`train ${n}`);
    assert.deepEqual(
      mock.of('propose').sort(),
      ['propose 1', 'propose 2', 'propose 3'],
      'all three start at once',
    );
    mock.release('train 3');
    await mock.seen('record 3 keep');
    mock.release('train 2');
    await mock.seen('record 2 keep');
    mock.release('train 1');
    const summary = await handle.result();
    assert.deepEqual(mock.of('record'), [
      'record 0 keep',
      'record 3 keep',
      'record 2 keep',
      'record 1 discard',
    ]);
    assert.equal(summary.best?.n, 2);
    assert.equal(summary.experimentsDone, 4);
    assert.deepEqual(
      mock.records.map((r) => r.parent),
      [BASE, BASE, BASE, BASE],
      'all three were proposed on the baseline',
    );
  });

  it("a training its worker scored goes straight to the decision, with no evaluate step; an older worker's is evaluated", async () => {
    const mock = new Mock((n) => (n === 2 ? 0.9 : 1 + n / 100));
    mock.scoresOnWorker = true;
    const summary = await (await h.start(mock, { parallel: 1, pipeline: true, maxExperiments: 3 })).result();
    assert.deepEqual(mock.of('evaluate'), [], `no evaluate step: ${mock.calls.join(', ')}`);
    assert.deepEqual(
      mock.of('record'),
      ['record 0 keep', 'record 1 discard', 'record 2 keep', 'record 3 discard'],
      "decided on the worker's verdicts",
    );
    assert.equal(summary.best?.n, 2);
    const older = new Mock();
    await (await h.start(older, { maxExperiments: 1 })).result();
    assert.deepEqual(older.of('evaluate'), ['evaluate 0', 'evaluate 1']);
  });

  it('a keep while another proposal waits: it was rebased ahead onto the candidate in training, and trains that commit with no rebase between', async () => {
    const mock = new Mock((n) => (n === 0 ? 1 : n === 1 ? 0.9 : 0.95));
    mock.hold('train 1');
    const handle = await h.start(mock, { parallel: 1, pipeline: true, maxExperiments: 2 });
    // Experiment 2 is proposed while 1 trains, on the baseline, and replayed onto 1 before 1 ends.
    const ahead = 'rebase 2 onto c1r0 ahead';
    await mock.seen(ahead);
    mock.release('train 1');
    const summary = await handle.result();
    const kept = mock.records.find((r) => r.n === 1)!;
    const second = mock.records.find((r) => r.n === 2)!;
    assert.equal(kept.status, 'keep');
    assert.deepEqual(mock.of('rebase'), [ahead], `one rebase, made ahead: ${mock.calls.join(', ')}`);
    assert.ok(mock.calls.indexOf(ahead) < mock.calls.indexOf('record 1 keep'), 'made before 1 was decided');
    assert.equal(second.parent, kept.commit);
    assert.equal(mock.trainedAt.get(2), second.commit, 'it trains the commit rebased ahead');
    assert.notEqual(second.commit, sha('c2r0'));
    assert.deepEqual(
      mock.speculations.get(2),
      { proposed: sha('c2r0') },
      'the record step is told which commit exp/2 was, to move its ref',
    );
    assert.deepEqual(mock.of('propose'), ['propose 1', 'propose 2'], 'not proposed again');
    assert.equal(summary.experimentsDone, 3);
  });

  it('a discard while another proposal waits: the rebase made ahead goes unused, and the proposal trains as proposed', async () => {
    const mock = new Mock((n) => (n === 0 ? 1 : 1.1));
    mock.hold('train 1');
    const handle = await h.start(mock, { parallel: 1, pipeline: true, maxExperiments: 2 });
    await mock.seen('rebase 2 onto c1r0 ahead');
    mock.release('train 1');
    await handle.result();
    const second = mock.records.find((r) => r.n === 2)!;
    assert.equal(mock.records.find((r) => r.n === 1)!.status, 'discard');
    assert.equal(second.commit, sha('c2r0'));
    assert.equal(second.parent, BASE);
    assert.equal(mock.trainedAt.get(2), second.commit);
    assert.deepEqual(mock.of('rebase'), ['rebase 2 onto c1r0 ahead']);
    assert.deepEqual(
      mock.speculations.get(2),
      { proposed: second.commit },
      'the record step is told, to drop the unused speculative ref',
    );
  });

  it('without pipelining nothing waits for a slot, so nothing is rebased ahead', async () => {
    const mock = new Mock((n) => (n === 0 ? 1 : 1.1));
    await (await h.start(mock, { parallel: 1, pipeline: false, maxExperiments: 3 })).result();
    assert.deepEqual(mock.of('rebase'), [], mock.calls.join(', '));
    assert.equal(mock.speculations.size, 0);
  });
});
