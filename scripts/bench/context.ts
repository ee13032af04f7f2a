// What every part of the bench shares: the Temporal server and client, and the settings it was run with.
import type { Client } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { startWorkers, uniqueQueues, type RunningWorkers } from '../../test/support/temporal';

export interface BenchSettings {
  /** Seconds each simulated training sleeps (B). */
  budget: number;
  /** The simulated proposer's latency as a share of the budget (L = share × B). */
  proposerShare: number;
  /** Experiments after the baseline in each duty-cycle run. */
  experiments: number;
  /** Rounds of the scaling runs: each runs rounds × slots experiments after the baseline. */
  rounds: number;
  /** Slot counts of the scaling table. */
  slots: number[];
  /** Slots a training worker process offers; wider rows run as several such processes. */
  slotsPerWorker: number;
  /** Experiments after the baseline in the overhead runs (Temporal and bare). */
  overheadExperiments: number;
  /** Experiments after the baseline under each keep rule in the false-keeps part (tinylm). */
  keepsExperiments: number;
  /** tinylm's training budget in the false-keeps part, seconds. */
  keepsBudget: number;
  /** New seeds each kept change and its parent are re-run with, to judge the keep. */
  reruns: number;
}

export interface Bench {
  address: string;
  client: Client;
  settings: BenchSettings;
}

export interface BenchWorkers extends RunningWorkers {
  queues: { taskQueue: string; trainTaskQueue: string };
}

/**
 * The commands the bench's control workers let the command proposer run (`--agent-command`): a run adds
 * its simulated proposer here before it starts; the workers read the list at each proposal.
 */
export const benchAgentCommands: string[] = [];

/** In-process control and training workers offering `slots` training slots, on task queues of their own. */
export async function workersWithSlots(bench: Bench, name: string, slots: number): Promise<BenchWorkers> {
  const queues = uniqueQueues(`bench-${name}`);
  const workers = await startWorkers(bench.address, { ...queues, slots, agentCommands: benchAgentCommands });
  return { ...workers, queues };
}

/** Runs `body` with workers of `slots` slots, and stops them after. */
export async function withWorkers<T>(
  bench: Bench,
  name: string,
  slots: number,
  body: (queues: BenchWorkers['queues']) => Promise<T>,
): Promise<T> {
  const workers = await workersWithSlots(bench, name, slots);
  try {
    return await body(workers.queues);
  } finally {
    await workers.stop();
  }
}

/**
 * For the bench's loops that call activities without Temporal: prepare and train read their activity
 * context (the run's id, heartbeats), so they get a mock one, as in the tests.
 */
export function mockActivityContext(tag: string, runId: string): MockActivityEnvironment {
  return new MockActivityEnvironment({
    workflowExecution: { workflowId: `autoresearch-${tag}`, runId },
    heartbeatTimeoutMs: 30_000,
  });
}
