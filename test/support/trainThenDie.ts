// A worker that dies the moment its training says it is about to end: run as its own process by
// test/activities.test.ts, it trains one candidate (argv[2], a TrainInput as JSON) and SIGKILLs itself
// once the file argv[3] appears, which the target's train.py writes just before it finishes.
import { MockActivityEnvironment } from '@temporalio/testing';
import { existsSync } from 'node:fs';
import { createTrainActivities, type TrainInput } from '../../activities/train';

const [inputJson, dieWhen] = process.argv.slice(2);
const input = JSON.parse(inputJson!) as TrainInput;
setInterval(() => {
  if (existsSync(dieWhen!)) process.kill(process.pid, 'SIGKILL');
}, 5);
const { trainCandidate } = createTrainActivities({ slot: 'gpu0' });
await new MockActivityEnvironment({ heartbeatTimeoutMs: 30_000 }).run(trainCandidate, input);
console.error('the training ended before the worker could die');
process.exit(3);
