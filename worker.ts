// Wiring only: a control worker (workflows + git/file activities) and a training worker (one training
// at a time in each of its slots) polling their task queues. `autoresearch worker` runs both by default;
// on a GPU box that only trains, `autoresearch worker --train-only --gpus 0,1,...` offers one slot per GPU.
import {
  type NativeConnection,
  Worker,
  bundleWorkflowCode,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { createControlActivities, createTrainActivities, type SlotSpec } from './activities';
import { checkSandbox } from './training/sandbox';
import { CONTROL_TASK_QUEUE, TRAIN_TASK_QUEUE } from './temporal/queues';

export interface WorkerSetup {
  connection: NativeConnection;
  namespace: string;
  taskQueue?: string;
  trainTaskQueue?: string;
  /** Run workflows and control activities. */
  control?: boolean;
  /** Run training. */
  train?: boolean;
  /** Name of the (first) training slot on this machine. */
  slot?: string;
  /**
   * One slot per GPU, each pinned to it with CUDA_VISIBLE_DEVICES: "0,1,2,3". A slot may own several
   * GPUs joined by "+": "0+1,2+3" is two slots of two GPUs each.
   */
  gpus?: string;
  /** Slots without GPU pinning (CPU targets, tests); ignored when `gpus` is given. */
  slots?: number;
  /** Directories put first on the training's PATH (where the project installed uv). */
  extraPath?: string[];
  /** Where training keeps its clones of runs' git remotes (default: ~/.autoresearch/work). */
  workdir?: string;
  /** Run training, set-up and evaluation in the bubblewrap sandbox (training/sandbox.ts); on unless false. */
  sandbox?: boolean;
  /**
   * Commands the control worker runs for the command proposer (`--agent-command`); a run naming any
   * other is paused, its command not run (proposers/command/allowlist.ts). Read at each proposal, so a
   * process embedding a worker may add to the array later (the test harness does).
   */
  agentCommands?: readonly string[];
  /** Secrets the control worker hands such an agent when its run asks for them (`--pass-env`). */
  passEnv?: readonly string[];
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
        activities: createControlActivities({
          commands: setup.agentCommands ?? [],
          passEnv: setup.passEnv ?? [],
        }),
      }),
    );
  }
  if (setup.train ?? true) {
    const slots = trainingSlots(setup);
    // A sandbox that cannot be built is said now, with bwrap's own message, not at the first training.
    const sandbox = setup.sandbox ?? true;
    if (sandbox) checkSandbox();
    workers.push(
      await Worker.create({
        ...common,
        taskQueue: setup.trainTaskQueue ?? TRAIN_TASK_QUEUE,
        activities: createTrainActivities({
          slots,
          extraPath: setup.extraPath,
          workdir: setup.workdir,
          sandbox,
        }),
        // As many trainings at once as slots, each in a slot of its own: never two on one GPU.
        maxConcurrentActivityTaskExecutions: slots.length,
        // On shutdown, give a training a moment to be cancelled cleanly; it is then retried elsewhere.
        shutdownGraceTime: '5 seconds',
      }),
    );
  }
  return workers;
}

/** The training slots a worker offers: one per GPU (or group of GPUs), else `slots` unpinned ones. */
export function trainingSlots(setup: Pick<WorkerSetup, 'slot' | 'gpus' | 'slots'>): SlotSpec[] {
  if (setup.gpus !== undefined) {
    const groups = setup.gpus.split(',').map((g) => g.trim());
    if (groups.some((g) => !/^\d+(\+\d+)*$/.test(g)) || new Set(groups).size !== groups.length)
      throw new Error(
        `--gpus takes distinct GPU numbers separated by commas, one slot each (e.g. 0,1,2,3; 0+1,2+3 for two GPUs per slot); got "${setup.gpus}"`,
      );
    return groups.map((g) => ({ name: `gpu${g.replace(/\+/g, '-')}`, gpus: g.replace(/\+/g, ',') }));
  }
  const count = setup.slots ?? 1;
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`--slots takes a whole number of training slots >= 1; got ${count}`);
  const first = setup.slot ?? 'gpu0';
  return Array.from({ length: count }, (_, k) => ({ name: k === 0 ? first : `${first}-${k}` }));
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
