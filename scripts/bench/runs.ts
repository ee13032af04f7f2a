// A bench run: started on the bench's own task queues with a tag of its own, followed to its end, then
// its records and its whole history read back.
import type { Client } from '@temporalio/client';
import path from 'node:path';
import { readRecords } from '../../store/runDirectory';
import { startRun, type StartRunRequest } from '../../client';
import type { ExperimentRecord, RunSummary } from '../../common/types';
import { benchAgentCommands, type Bench } from './context';
import { fetchChain, steps, type Step } from './history';
import { readSpans, simulatedProposer, simulatedTarget, type Span } from './simulated';

export interface FinishedRun {
  summary: RunSummary;
  records: ExperimentRecord[];
  /** Events of each execution of the continue-as-new chain. */
  eventsPerExecution: number[];
  steps: Step[];
  /** From startRun to the result, seconds. */
  wallSeconds: number;
}

let runs = 0;

/** A tag no earlier bench run on this server has used. */
export function benchTag(name: string): string {
  return `bench-${name}-${process.pid}-${Date.now().toString(36)}-${runs++}`;
}

export async function runToEnd(client: Client, request: StartRunRequest): Promise<FinishedRun> {
  const started = Date.now();
  const handle = await startRun(client, request);
  const summary = (await handle.result()) as RunSummary;
  const wallSeconds = (Date.now() - started) / 1000;
  const chain = await fetchChain(client, handle.workflowId, handle.firstExecutionRunId);
  return {
    summary,
    records: readRecords(path.dirname(summary.resultsPath!)),
    eventsPerExecution: chain.map((events) => events.length),
    steps: steps(chain),
    wallSeconds,
  };
}

/** History events per experiment (baseline included), over every execution of the run. */
export function eventsPerExperiment(run: FinishedRun): number {
  return run.eventsPerExecution.reduce((a, b) => a + b, 0) / run.summary.experimentsDone;
}

export interface SimulatedRun {
  run: FinishedRun;
  /** Every training, the baseline's included, by start time. */
  spans: Span[];
}

/** A run of the simulated research: sleeping trainer, command proposer with its latency. */
export async function simulatedRun(
  bench: Bench,
  queues: { taskQueue: string; trainTaskQueue: string },
  name: string,
  run: { parallel: number; pipeline: boolean; experiments: number },
): Promise<SimulatedRun> {
  const { budget, proposerShare } = bench.settings;
  const target = await simulatedTarget();
  const proposer = simulatedProposer(proposerShare * budget);
  benchAgentCommands.push(proposer);
  const finished = await runToEnd(bench.client, {
    repo: target.repo,
    tag: benchTag(name),
    proposer: 'command',
    command: { command: proposer, timeoutSeconds: 60 + budget },
    budgetSeconds: budget,
    maxExperiments: run.experiments,
    parallel: run.parallel,
    pipeline: run.pipeline,
    ...queues,
  });
  return { run: finished, spans: readSpans(target.ledger) };
}
