// Records a history from a real run into test/fixtures/histories/, for the replay test.
// Usage: npm run record-history [-- name]   (needs TEMPORAL_ADDRESS or starts its own server)
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { writeFileSync } from 'node:fs';
import { startRun } from '../client';
import { makeFakeTarget } from '../test/support/fakeTarget';
import { startWorkers, stopOwnServer, testClient, testServer, uniqueQueues } from '../test/support/temporal';

const name = process.argv[2] ?? `run-${new Date().toISOString().slice(0, 10)}`;
const address = await testServer();
const client = await testClient(address);
const queues = uniqueQueues('record');
const workers = await startWorkers(address, queues);
const repo = await makeFakeTarget({ crashWhen: 'WIDTH != 16' });
const handle = await startRun(client, {
  repo,
  tag: 'recorded',
  maxExperiments: 4,
  experimentsPerRun: 3,
  seed: 3,
  ...queues,
});
await handle.result();
const history = await client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).fetchHistory();
const file = new URL(`../test/fixtures/histories/${name}.json`, import.meta.url);
writeFileSync(file, historyToJSON(history));
console.log(`recorded ${history.events?.length} events to ${file.pathname}`);
await workers.stop();
await client.connection.close();
await stopOwnServer();
