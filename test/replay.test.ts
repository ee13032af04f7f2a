// Determinism: histories recorded from real runs must replay against the current workflow code.
// A change that would break live runs (reordered activities, new timers) fails here, not in production.
// Record a new fixture with `npm run record-history` after an intended, versioned (patched()) change.
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { startRun } from '../client';
import { workflowBundle } from '../worker';
import { makeFakeTarget } from './support/fakeTarget';
import { useHarness } from './support/temporal';

const FIXTURES = new URL('./fixtures/histories/', import.meta.url);

describe('workflow determinism', () => {
  const h = useHarness('replay');

  const fixtures = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));
  it('has recorded histories to replay', () => assert.ok(fixtures.length > 0));
  for (const file of fixtures) {
    it(`replays ${file}`, async () => {
      const history = historyFromJSON(JSON.parse(readFileSync(new URL(file, FIXTURES), 'utf8')));
      assert.ok((history.events?.length ?? 0) > 20, 'a real history, with experiments in it');
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history);
    });
  }

  it('replays a history recorded just now, across continue-as-new', async () => {
    const repo = await makeFakeTarget();
    const handle = await startRun(h.client, {
      repo,
      tag: 'replay',
      maxExperiments: 3,
      experimentsPerRun: 2,
      ...h.queues,
    });
    await handle.result();
    const history = await h.client.workflow
      .getHandle(handle.workflowId, handle.firstExecutionRunId)
      .fetchHistory();
    const last = history.events![history.events!.length - 1]!.eventType;
    assert.equal(last, proto.temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW);
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history);
  });
});
