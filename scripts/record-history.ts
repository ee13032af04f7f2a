// Records a history from a real run into test/fixtures/histories/, for the replay test. The run is
// steered the way an operator would (a queued idea, a note, pause --now during training, resume, new
// limits), so the replay covers those paths too. With --parallel N, N slots train at once and proposals
// are pipelined (made ahead, rebased when the best moved); without it, one step at a time. With --noisy
// the target's metric has a known noise (0.02 by seed): the baseline trains 3 times and the noise-aware
// rule confirms the queued idea's gain with 2 more seeds.
// Usage: npm run record-history [-- name [--parallel N] [--noisy]]   (needs TEMPORAL_ADDRESS or starts its own server)
// A fixture is named by the version that recorded it, <date>-<commit>-<what>.json (the default name), so a
// replay failure says which version's runs the change would break. A recorded fixture is never edited.
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startRun } from '../client';
import {
  limitsUpdate,
  pauseSignal,
  queueUpdate,
  redirectUpdate,
  resumeSignal,
  statusQuery,
} from '../workflows/messages';
import { waitFor } from '../test/support/waitFor';
import { makeFakeTarget } from '../test/support/fakeTarget';
import { startWorkers, stopOwnServer, testClient, testServer, uniqueQueues } from '../test/support/temporal';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { parallel: { type: 'string' }, noisy: { type: 'boolean', default: false } },
});
const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
const name = positionals[0] ?? `${new Date().toISOString().slice(0, 10)}-${commit}-run`;
const parallel = values.parallel === undefined ? undefined : Number(values.parallel);
const address = await testServer();
const client = await testClient(address);
const queues = uniqueQueues('record');
const workers = await startWorkers(address, { ...queues, slots: parallel ?? 1 });
const repo = await makeFakeTarget({
  crashWhen: 'WIDTH != 16',
  sleepSeconds: 4,
  ...(values.noisy ? { noise: 0.02 } : {}),
});
const handle = await startRun(client, {
  repo,
  tag: 'recorded',
  maxExperiments: 3,
  experimentsPerRun: 3,
  seed: 3,
  heartbeatTimeoutSeconds: 2,
  ...(parallel === undefined ? { pipeline: false } : { parallel, pipeline: true }),
  ...queues,
});
await handle.executeUpdate(queueUpdate, { args: ['LEARNING_RATE=0.02'] });
await handle.executeUpdate(redirectUpdate, { args: ['try a wider model'] });
await waitFor('experiment 2 to train', async () => {
  const s = await handle.query(statusQuery);
  return s.inFlight.some((a) => a.n === 2 && a.phase === 'training') ? s : undefined;
});
await handle.signal(pauseSignal, { now: true });
await waitFor('the pause', async () =>
  (await handle.query(statusQuery)).phase === 'paused' ? true : undefined,
);
await handle.executeUpdate(limitsUpdate, { args: [{ maxExperiments: 4 }] });
await handle.signal(resumeSignal);
await handle.result();
const history = await client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).fetchHistory();
const file = new URL(`../test/fixtures/histories/${name}.json`, import.meta.url);
writeFileSync(file, historyToJSON(history));
console.log(`recorded ${history.events?.length} events to ${file.pathname}`);
await workers.stop();
await client.connection.close();
await stopOwnServer();
