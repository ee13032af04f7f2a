// The progress chart, drawn off the record step's path: the step asks for it and returns; the chart is
// drawn in a thread of its own (store/chartThread.ts), one draw at a time per run directory. Asks that
// come while a run's chart is drawing fold into one more draw after it, which waits as long as the last
// draw took (the chart takes at most half a core, however long the run), and the first waits a second,
// out of the way of the next training's start. So the chart lags a second and a draw or two behind at
// most and the last record is always drawn; a process does not exit before its pending draws.
import { Worker } from 'node:worker_threads';
import type { ChartOptions } from './chart';

export interface ChartJob {
  id: number;
  runDir: string;
  options: ChartOptions;
}

export interface ChartReply {
  id: number;
  ms: number;
  error?: string;
}

interface RunChart {
  options: ChartOptions;
  warn: (message: string) => void;
  /** A draw is running or waiting for its turn. */
  busy: boolean;
  /** Asked for again since the running draw began. */
  again: boolean;
}

const runs = new Map<string, RunChart>();
const replies = new Map<number, (reply: ChartReply) => void>();
let thread: Worker | undefined;
let nextId = 0;
let settled: { promise: Promise<void>; resolve: () => void } | undefined;

/** Asks for `runDir`'s chart to be redrawn; returns at once. A failure to draw goes to `warn`. */
export function requestChart(runDir: string, options: ChartOptions, warn: (message: string) => void): void {
  const run = runs.get(runDir);
  if (run?.busy) {
    Object.assign(run, { options, warn, again: true });
    return;
  }
  runs.set(runDir, { options, warn, busy: true, again: false });
  void drawUntilCurrent(runDir);
}

/** Resolves once every chart asked for so far is drawn (the tests, the bench, a process about to end). */
export function chartsDrawn(): Promise<void> {
  if (![...runs.values()].some((r) => r.busy)) return Promise.resolve();
  if (!settled) {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    settled = { promise, resolve };
  }
  return settled.promise;
}

/**
 * How long a draw waits after it is asked for. A record step comes as the slot's next training starts,
 * and where the same machine trains, a draw (a core for tens to hundreds of ms) would compete with that
 * training's start-up, which is the slot's idle time; asks meanwhile fold into this one draw.
 */
const SETTLE_MS = 1000;

async function drawUntilCurrent(runDir: string): Promise<void> {
  const run = runs.get(runDir)!;
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  for (;;) {
    run.again = false;
    const reply = await drawInThread(runDir, run.options);
    if (reply.error) run.warn(`progress chart not drawn: ${reply.error}`);
    if (!run.again) break;
    await new Promise((r) => setTimeout(r, reply.ms));
  }
  run.busy = false;
  if (settled && ![...runs.values()].some((r) => r.busy)) {
    settled.resolve();
    settled = undefined;
  }
}

function drawInThread(runDir: string, options: ChartOptions): Promise<ChartReply> {
  const worker = chartThread();
  const id = nextId++;
  // Held while it draws, so that a process ending right after its run's last record still draws it.
  worker.ref();
  return new Promise<ChartReply>((resolve) => {
    replies.set(id, resolve);
    worker.postMessage({ id, runDir, options } satisfies ChartJob);
  }).finally(() => {
    if (replies.size === 0) thread?.unref();
  });
}

/** The one chart thread of this process, started on first use (a thread that fails is replaced). */
function chartThread(): Worker {
  if (thread) return thread;
  // The project runs TypeScript through tsx, whose loader a thread does not inherit: it registers it first.
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./chartThread.ts', import.meta.url).href;
  const worker = new Worker(
    `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`,
    { eval: true },
  );
  worker.on('message', (reply: ChartReply) => {
    const resolve = replies.get(reply.id);
    replies.delete(reply.id);
    resolve?.(reply);
  });
  const fail = (message: string) => {
    if (thread === worker) thread = undefined;
    for (const [id, resolve] of replies) resolve({ id, ms: 0, error: message });
    replies.clear();
  };
  worker.on('error', (err) => fail(err.message));
  worker.on('exit', (code) => fail(`the chart thread exited (${code})`));
  worker.unref();
  thread = worker;
  return worker;
}
