// How a run hands over and ends with experiments in flight, with mocked activities (mocked.ts):
// continue-as-new carries the proposals made ahead, stop gives back the numbers nothing trained,
// pause --now cancels the training in flight.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pauseSignal, resumeSignal, statusQuery, stopSignal } from '../../workflows/messages';
import { waitFor } from '../support/waitFor';
import { Mock, useMockedWorker } from './mocked';

/** Every number from 0 to `last` recorded, each once. */
function assertEachRecordedOnce(mock: Mock, last: number): void {
  assert.deepEqual(
    mock.records.map((r) => r.n).sort((a, b) => a - b),
    Array.from({ length: last + 1 }, (_, n) => n),
    `records: ${mock.of('record').join(', ')}`,
  );
}

describe('ending and handing over (mocked activities)', () => {
  const h = useMockedWorker('wf-ending');

  it('drains at continue-as-new: the proposal made ahead trains in the next execution, not proposed again', async () => {
    const mock = new Mock();
    const handle = await h.start(mock, { pipeline: true, maxExperiments: 4, experimentsPerRun: 2 });
    const summary = await handle.result();
    assertEachRecordedOnce(mock, 4);
    assert.deepEqual(mock.of('propose'), ['propose 1', 'propose 2', 'propose 3', 'propose 4']);
    assert.deepEqual(mock.of('train'), ['train 0', 'train 1', 'train 2', 'train 3', 'train 4']);
    assert.equal(summary.experimentsDone, 5);
    const described = await handle.describe();
    assert.notEqual(described.runId, handle.firstExecutionRunId, 'the run continued as new');
  });

  it('stop while two train: both finish and are recorded, the proposals made ahead give their numbers back', async () => {
    const mock = new Mock();
    mock.hold('train 1', 'train 2');
    const handle = await h.start(mock, { parallel: 2, pipeline: true, maxExperiments: undefined });
    await mock.seen('train 1');
    await mock.seen('train 2');
    await mock.seen('propose 4'); // one made ahead for each slot
    await handle.signal(stopSignal);
    mock.release('train 1');
    mock.release('train 2');
    const summary = await handle.result();
    assert.equal(summary.reason, 'stopped');
    assertEachRecordedOnce(mock, 2);
    assert.equal(summary.experimentsDone, 3);
    // Trainings 1 and 2 start at once: a worker may run them in either order.
    assert.deepEqual(
      mock.of('train').sort(),
      ['train 0', 'train 1', 'train 2'],
      'nothing trains after the stop',
    );
  });

  it('pause --now cancels the training in flight: recorded as cancelled, the run waits, resume goes on', async () => {
    const mock = new Mock();
    mock.hold('train 1');
    const handle = await h.start(mock, { maxExperiments: 2 });
    await mock.seen('train 1');
    await handle.signal(pauseSignal, { now: true });
    await mock.seen('train 1 cancelled');
    await mock.seen('record 1 cancelled');
    const paused = await waitFor('the run paused', async () => {
      const s = await handle.query(statusQuery);
      return s.phase === 'paused' ? s : undefined;
    });
    assert.equal(paused.counts.cancelled, 1);
    assert.deepEqual(mock.of('propose'), ['propose 1'], 'nothing new starts while paused');
    await handle.signal(resumeSignal);
    const summary = await handle.result();
    assertEachRecordedOnce(mock, 2);
    assert.deepEqual(mock.of('record'), ['record 0 keep', 'record 1 cancelled', 'record 2 discard']);
    assert.equal(summary.counts.cancelled, 1);
  });
});
