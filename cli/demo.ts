// `npm start`: the embedded server, a worker and a run on the bundled CPU example, with live progress,
// ending in the results table and the Web UI link. Everything it needs it sets up itself.
import type { Client } from '@temporalio/client';
import { runUiUrl, startRun } from '../client';
import { connectClient } from '../temporal/connection';
import { connectWorkerConnection } from '../temporal/workerConnection';
import { materializeExample } from '../target/examples';
import { homePath } from '../system/home';
import { ensureUv } from '../target/pythonTools';
import { NO_BUBBLEWRAP_HELP, checkSandbox, ensureBubblewrap, sandboxWanted } from '../training/sandbox';
import type { RunSummary } from '../common/types';
import { createWorkers, runWorkers } from '../worker';
import { allRecords, queryStatus } from './findRun';
import { resultsTable, summaryText } from './render';
import type { ServerHandle } from './server';
import { watchLive } from './liveView';
import { followRun } from './watch';

export interface DemoOptions {
  maxExperiments: number;
  budgetSeconds?: number;
  keepServer: boolean;
  ensureServer: () => Promise<ServerHandle>;
  log: (line: string) => void;
}

function timestampTag(): string {
  return `demo-${new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`;
}

/**
 * The demo sandboxes its trainings like any worker, but where bubblewrap cannot run here it says so and
 * goes on without: the first `npm start` on any machine must show the loop, and the bundled example's
 * edits come from the offline proposer unless the user gave a key. A worker never falls back like this.
 */
async function demoSandbox(log: (line: string) => void): Promise<boolean> {
  if (!sandboxWanted(undefined)) return false;
  try {
    const bwrap = await ensureBubblewrap(log);
    if (!bwrap) throw new Error(NO_BUBBLEWRAP_HELP);
    checkSandbox(bwrap);
    return true;
  } catch (err) {
    log(`the demo trains WITHOUT the sandbox: ${(err as Error).message}`);
    return false;
  }
}

export async function runDemo(options: DemoOptions): Promise<void> {
  const extraPath = await ensureUv(options.log);
  const sandbox = await demoSandbox(options.log);
  const server = await options.ensureServer();
  // The server this process started is stopped on every path: a failed demo leaves nothing running.
  let completed = false;
  try {
    await demoRun(server, extraPath, sandbox, options);
    completed = true;
  } finally {
    if (server.started) {
      if (completed && options.keepServer && server.uiUrl) {
        console.log(`The Web UI stays up at ${server.uiUrl}; press Ctrl-C to stop the server.`);
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
      }
      await server.started.stop();
    }
  }
}

async function demoRun(
  server: ServerHandle,
  extraPath: string[],
  sandbox: boolean,
  options: DemoOptions,
): Promise<void> {
  // Retried for a while: a server this process has just started may still be settling on a busy machine.
  const retry = { retryForMs: 60_000, log: options.log };
  const connection = await connectWorkerConnection(server.settings, retry);
  // Two slots: the baseline's extra seeds (the noise measurement) train side by side on a 2-core laptop.
  const workers = await createWorkers({
    connection,
    namespace: server.settings.namespace,
    extraPath,
    slots: 2,
    sandbox,
  });
  const workersDone = runWorkers(workers);
  let client: Client | undefined;
  try {
    client = await connectClient(server.settings, retry);
    const repo = await materializeExample('tinylm', homePath('demo', 'tinylm'));
    const tag = timestampTag();
    // Claude when a key is here; the offline mutate proposer otherwise.
    const proposer = process.env.ANTHROPIC_API_KEY ? 'claude' : 'mutate';
    const handle = await startRun(client, {
      repo,
      tag,
      proposer,
      maxExperiments: options.maxExperiments,
      budgetSeconds: options.budgetSeconds,
    });
    const ui = server.uiUrl ? runUiUrl(server.uiUrl, server.settings.namespace, tag) : null;
    console.log(`autoresearch demo: run ${tag} on ${repo}`);
    console.log(
      `proposer: ${proposer === 'claude' ? 'claude (ANTHROPIC_API_KEY is set)' : 'mutate (offline; set ANTHROPIC_API_KEY for claude)'}; ` +
        `baseline + ${options.maxExperiments} experiments`,
    );
    if (ui) console.log(`watch it in the Temporal Web UI: ${ui}`);

    // On a terminal, the live view redrawn in place; in a pipe or a CI log, one line per experiment.
    const summary = process.stdout.isTTY
      ? await watchLive<RunSummary>(handle, { inPlace: true })
      : await followRun<RunSummary>(handle, {
          onExperiment: (r, s) => {
            const metric = r.metric === undefined ? '-' : r.metric.toFixed(6);
            const best = s.best ? s.best.metric.toFixed(6) : '-';
            console.log(
              `exp ${r.n} ${r.status.padEnd(7)} ${s.metricName ?? 'metric'} ${metric} (best ${best})  ${r.description}`,
            );
          },
        });
    const status = await queryStatus(client, tag);
    console.log(`\n${resultsTable(allRecords(status), status.metricName ?? 'metric')}`);
    console.log(summaryText(summary));
    if (status.runDir) console.log(`progress chart: ${status.runDir}/progress.png (and .svg)`);
    if (ui) console.log(`Web UI: ${ui}`);
  } finally {
    for (const w of workers) w.shutdown();
    await workersDone;
    await client?.connection.close();
    await connection.close();
  }
}
