// The embedded dev server hands a waiting activity to a worker the moment it is free. Its task queues
// take new tasks into one partition: with the default four, a task that waited sat in a partition the
// worker's next poll often did not reach, and it started about 1.7 s late, a gap between two trainings
// of a slot (a confirmation re-run, a 64-slot run's steps on the control worker).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { backlogGaps } from './support/backlogLatency';
import { startOwnServer, testClient } from './support/temporal';

describe('the embedded dev server', () => {
  it('starts an activity that waited in its task queue as soon as the worker has a free slot', async (t) => {
    const server = await startOwnServer();
    after(() => server.stop());
    const client = await testClient(server.address);
    after(() => client.connection.close());
    const gaps = await backlogGaps(client, server.address, 8);
    t.diagnostic(`ms from one activity's end to the next one's start: ${gaps.join(', ')}`);
    // About 10-50 ms on a busy laptop; a task left in another partition waits about 1,700 ms.
    assert.ok(
      gaps.every((ms) => ms < 800),
      `ms from one activity's end to the next one's start: ${gaps.join(', ')}`,
    );
  });
});
