// Wiring only: a control worker (workflows + git/file activities) and a training worker (one slot,
// one training at a time) polling their task queues. `autoresearch worker` runs both by default;
// on a GPU box that only trains, run `autoresearch worker --train-only` once per GPU.
import {
  NativeConnection,
  Worker,
  bundleWorkflowCode,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { createControlActivities, createTrainActivities } from './activities';

export const CONTROL_TASK_QUEUE = process.env.AUTORESEARCH_TASK_QUEUE ?? 'autoresearch';
export const TRAIN_TASK_QUEUE = process.env.AUTORESEARCH_TRAIN_TASK_QUEUE ?? 'autoresearch-gpu';

export interface WorkerSetup {
  connection: NativeConnection;
  namespace: string;
  taskQueue?: string;
  trainTaskQueue?: string;
  /** Run workflows and control activities. */
  control?: boolean;
  /** Run training. */
  train?: boolean;
  slot?: string;
  gpus?: string;
  /** Directories put first on the training's PATH (where the project installed uv). */
  extraPath?: string[];
  identity?: string;
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** The workflow code, bundled once per process (bundling takes seconds; tests start many workers). */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('./workflows/index.ts', import.meta.url)),
    logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} },
  });
  return bundle;
}

export async function createWorkers(setup: WorkerSetup): Promise<Worker[]> {
  const workers: Worker[] = [];
  const common = {
    connection: setup.connection,
    namespace: setup.namespace,
    ...(setup.identity ? { identity: setup.identity } : {}),
  };
  if (setup.control ?? true) {
    workers.push(
      await Worker.create({
        ...common,
        taskQueue: setup.taskQueue ?? CONTROL_TASK_QUEUE,
        workflowBundle: await workflowBundle(),
        activities: createControlActivities(),
      }),
    );
  }
  if (setup.train ?? true) {
    workers.push(
      await Worker.create({
        ...common,
        taskQueue: setup.trainTaskQueue ?? TRAIN_TASK_QUEUE,
        activities: createTrainActivities({
          slot: setup.slot ?? 'gpu0',
          gpus: setup.gpus,
          extraPath: setup.extraPath,
        }),
        // One slot trains one candidate at a time.
        maxConcurrentActivityTaskExecutions: 1,
        // On shutdown, give a training a moment to be cancelled cleanly; it is then retried elsewhere.
        shutdownGraceTime: '5 seconds',
      }),
    );
  }
  return workers;
}

/** Runs the workers until one of them stops (shutdown signal or fatal error), then stops the rest. */
export async function runWorkers(workers: Worker[]): Promise<void> {
  const running = workers.map((w) => w.run());
  try {
    await Promise.race(running);
  } finally {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await Promise.allSettled(running);
  }
}
