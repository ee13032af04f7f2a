// The fast tier: the real researchLoop workflow on the test server, with mocked activities (plain
// functions, no git, no training) so a test runs in seconds. Each mock says what it was called with in
// `calls` ("propose 2", "train 1", "record 1 keep" ...), and a test may hold a step until it releases
// it, to make experiments finish in the order it wants.
import { Context } from '@temporalio/activity';
import type { Client, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { after, before } from 'node:test';
import type { ControlActivities, TrainActivities } from '../../activities';
import { WORKFLOW_TYPE, branchName, workflowIdFor } from '../../common/names';
import { AUTORESEARCH_DEFAULTS } from '../../target/config';
import type {
  Candidate,
  Evaluation,
  ExperimentRecord,
  PreparedRun,
  RunOptions,
  TargetConfig,
  TrainingOutcome,
} from '../../common/types';
import { workflowBundle } from '../../worker';
import type { researchLoop } from '../../workflows';
import { testClient, testServer, uniqueQueues } from '../support/temporal';
import { waitFor } from '../support/waitFor';

const config: TargetConfig = { source: 'defaults', ...structuredClone(AUTORESEARCH_DEFAULTS) };
export const BASE = 'b'.repeat(40);

/** A commit name for the mocks: readable in a failure, 40 characters like a SHA. */
export function sha(text: string): string {
  return text.padEnd(40, '0');
}

type Gate = { promise: Promise<void>; release: () => void };

export class Mock {
  readonly calls: string[] = [];
  readonly records: ExperimentRecord[] = [];
  /** What each record step was told about a rebase made ahead for its experiment (by number). */
  readonly speculations = new Map<number, unknown>();
  /** The commit each experiment trained (the last time it did). */
  readonly trainedAt = new Map<number, string>();
  private gates = new Map<string, Gate>();

  /**
   * Whether the training mock scores its own outcome when the workflow hands it the frozen blobs, as
   * a worker of this version does (activities/train.ts); otherwise it answers as an older worker.
   */
  scoresOnWorker = false;

  /** The metric experiment `n` scores (lower is better). */
  constructor(public metricOf: (n: number) => number = (n) => (n === 0 ? 1 : 1 + n / 100)) {}

  /** The step named `call` (e.g. "train 2") waits for `release(call)`. */
  hold(...calls: string[]): void {
    for (const call of calls) {
      let release!: () => void;
      const promise = new Promise<void>((resolve) => (release = resolve));
      this.gates.set(call, { promise, release });
    }
  }
  release(call: string): void {
    const gate = this.gates.get(call);
    if (!gate) throw new Error(`${call} was not held`);
    gate.release();
  }
  /** Waits until the mocks saw `call`. */
  async seen(call: string): Promise<void> {
    await waitFor(
      `${call} (saw ${this.calls.join(', ')})`,
      () => (this.calls.includes(call) ? true : undefined),
      20_000,
    );
  }
  /** The calls of one kind ("train", "record" ...), in order. */
  of(kind: string): string[] {
    return this.calls.filter((c) => c.startsWith(`${kind} `));
  }

  private async step(call: string): Promise<void> {
    this.calls.push(call);
    const gate = this.gates.get(call);
    if (!gate) return;
    // Heartbeats carry a cancellation (pause --now) to a held step.
    const ctx = Context.current();
    const beat = setInterval(() => ctx.heartbeat(), 100);
    try {
      await Promise.race([gate.promise, ctx.cancelled]);
    } catch (err) {
      this.calls.push(`${call} cancelled`);
      throw err;
    } finally {
      clearInterval(beat);
    }
  }

  activities(): ControlActivities & TrainActivities {
    const control = {
      prepareRun: async (input: { tag: string }): Promise<PreparedRun> => {
        await this.step('prepare');
        return {
          branch: branchName(input.tag),
          baseCommit: BASE,
          config,
          frozenBlobs: {},
          runDir: '/nowhere',
        };
      },
      proposeCandidate: async (input: { n: number; parent: string; round?: number }): Promise<Candidate> => {
        await this.step(`propose ${input.n}${input.round ? ` round ${input.round}` : ''}`);
        return {
          n: input.n,
          parent: input.parent,
          commit: sha(`c${input.n}r${input.round ?? 0}`),
          description: `edit ${input.n}`,
        };
      },
      rebaseCandidate: async (input: { n: number; onto: string; speculative?: boolean }) => {
        await this.step(
          `rebase ${input.n} onto ${input.onto.slice(0, 4)}${input.speculative ? ' ahead' : ''}`,
        );
        return { commit: sha(`c${input.n}on${input.onto.slice(0, 4)}`) };
      },
      evaluateCandidate: async (input: { commit: string; outcome: TrainingOutcome }): Promise<Evaluation> => {
        const n = Number(input.outcome.slot);
        await this.step(`evaluate ${n}`);
        return { status: 'ok', metric: this.metricOf(n) };
      },
      recordExperiment: async (input: { record: ExperimentRecord; speculation?: unknown }) => {
        await this.step(`record ${input.record.n} ${input.record.status}`);
        this.records.push(input.record);
        if (input.speculation !== undefined) this.speculations.set(input.record.n, input.speculation);
      },
    };
    const train = {
      trainCandidate: async (input: {
        n: number;
        commit: string;
        frozenBlobs?: Record<string, string>;
      }): Promise<TrainingOutcome> => {
        this.trainedAt.set(input.n, input.commit);
        await this.step(`train ${input.n}`);
        const scored = this.scoresOnWorker && input.frozenBlobs !== undefined;
        return {
          ...(scored ? { evaluation: { status: 'ok' as const, metric: this.metricOf(input.n) } } : {}),
          exitCode: 0,
          signal: null,
          timedOut: false,
          summary: {},
          metricText: null,
          logPath: '/nowhere/log',
          logTail: '',
          trainSeconds: 1,
          // The mocks' evaluation reads the number back from here.
          slot: String(input.n),
          frozenModified: [],
        };
      },
    };
    return { ...control, ...train } as unknown as ControlActivities & TrainActivities;
  }
}

export interface MockedHarness {
  client: Client;
  /** Starts a run on the mocked worker; the options given override a small default run. */
  start(
    mock: Mock,
    options: Partial<RunOptions>,
  ): Promise<WorkflowHandleWithFirstExecutionRunId<typeof researchLoop>>;
}

let runs = 0;

/** For a describe block: a client and one worker whose activities are each test's Mock. */
export function useMockedWorker(name: string): MockedHarness {
  const queues = uniqueQueues(name);
  // Each run's calls go to its own mock, so a run a failed test left behind cannot touch the next test's.
  const mocks = new Map<string, Mock>();
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  let connection: NativeConnection | undefined;
  const harness: MockedHarness = {
    client: undefined as unknown as Client,
    async start(mock, options) {
      const tag = `${name}-${process.pid}-${runs++}`;
      mocks.set(workflowIdFor(tag), mock);
      const run: RunOptions = {
        tag,
        repo: '/nowhere/target',
        proposer: 'mutate',
        seed: 0,
        maxExperiments: 3,
        experimentsPerRun: 100,
        // Training runs on the same worker: one queue for everything.
        trainTaskQueue: queues.taskQueue,
        heartbeatTimeoutSeconds: 2,
        searchAttributes: false,
        parallel: 1,
        pipeline: false,
        ...options,
      };
      return harness.client.workflow.start<typeof researchLoop>(WORKFLOW_TYPE, {
        args: [run],
        taskQueue: queues.taskQueue,
        workflowId: workflowIdFor(tag),
      });
    },
  };
  before(async () => {
    const address = await testServer();
    harness.client = await testClient(address);
    connection = await NativeConnection.connect({ address });
    type Step = (...args: unknown[]) => unknown;
    const forward =
      (key: string): Step =>
      (...args) => {
        const mock = mocks.get(Context.current().info.workflowExecution?.workflowId ?? '')!;
        return (mock.activities() as unknown as Record<string, Step>)[key]!(...args);
      };
    worker = await Worker.create({
      connection,
      namespace: 'default',
      taskQueue: queues.taskQueue,
      workflowBundle: await workflowBundle(),
      activities: Object.fromEntries(Object.keys(new Mock().activities()).map((k) => [k, forward(k)])),
    });
    running = worker.run();
  });
  after(async () => {
    worker?.shutdown();
    await running;
    await connection?.close();
    await harness.client?.connection.close();
  });
  return harness;
}
