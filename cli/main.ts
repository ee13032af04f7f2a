// The `autoresearch` command line. Each subcommand is wiring: parse, connect, call client.ts / worker.ts.
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { Command, Option } from 'commander';
import path from 'node:path';
import { START_DEFAULTS, runHandle, runUiUrl, startRun } from '../client';
import { Repo } from '../store/git';
import {
  connectClient,
  connectWorkerConnection,
  isConnectionError,
  noServerHint,
  temporalSettings,
} from '../temporal/connection';
import { startDevServer } from '../temporal/devServer';
import { installQuietRuntime } from '../temporal/logging';
import { DEFAULT_CLAUDE } from '../proposers/claude/settings';
import { ensureUv } from '../target/pythonTools';
import { ensureTemporalCli, NO_TEMPORAL_CLI_HELP } from '../temporal/cliProvisioning';
import {
  limitsUpdate,
  pauseSignal,
  queueUpdate,
  redirectUpdate,
  resumeSignal,
  stopSignal,
} from '../workflows/messages';
import { createWorkers, runWorkers } from '../worker';
import { runDemo } from './demo';
import { bubblewrap, checkSandbox, ensureBubblewrap, sandboxWanted } from '../training/sandbox';
import { agentAllowlist } from '../proposers/command/allowlist';
import { allRecords, queryStatus, resolveTag } from './findRun';
import { resultsTable, statusText, summaryText } from './render';
import { defaultDbFile, ensureServer, portOf, uiUrlFor } from './server';
import { followRun } from './watch';
import { watchLive } from './liveView';
import { keepRuleName, parseDeadline, positiveInt, positiveNumber, positiveSeconds } from './parse';
import { formatResultsTsv } from '../store/resultsTsv';
import type { ProposerKind, RunSummary } from '../common/types';

installQuietRuntime();

const log = (line: string) => console.error(line);

/** Client commands wait this long for a server that does not answer yet (one being started beside them). */
const CLIENT_RETRY = { retryForMs: 5_000 };

/** Connects, finds the run (`--tag`, or the only running one), calls `act`, and always disconnects. */
async function withRun(tagOption: string | undefined, act: (client: Client, tag: string) => Promise<void>) {
  const client = await connectClient(temporalSettings(), CLIENT_RETRY);
  try {
    await act(client, await resolveTag(client, tagOption));
  } finally {
    await client.connection.close();
  }
}

/** An update's answer, or its validator's reason as the error (the run did not record it). */
async function sendUpdate<T>(send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError && err.cause)
      throw new Error(`the run refused: ${err.cause.message}`, { cause: err });
    throw err;
  }
}

const program = new Command('autoresearch')
  .description(
    'Durable autonomous ML research on Temporal: propose, train, evaluate, keep or discard, forever.',
  )
  .showHelpAfterError();

const tagOption = () => new Option('-t, --tag <tag>', 'the run (default: the only running one)');

program
  .command('setup')
  .description('install what runs need: the Temporal CLI (dev server + Web UI) and uv')
  .action(async () => {
    const cli = await ensureTemporalCli(log);
    console.log(cli ? `temporal CLI: ${cli}` : `temporal CLI: not installed. ${NO_TEMPORAL_CLI_HELP}`);
    const uvPath = await ensureUv(log);
    console.log(`uv: ${uvPath.length ? `${uvPath[0]}/uv` : 'on PATH'}`);
  });

program
  .command('server')
  .description('run the embedded Temporal dev server with the Web UI and a persistent SQLite file')
  .option('-p, --port <port>', 'gRPC port', (v) => positiveInt(v), portOf(temporalSettings().address))
  .option('--ui-port <port>', 'Web UI port (default: port + 1000)', (v) => positiveInt(v))
  .option('--db <file>', 'SQLite file holding the history', defaultDbFile())
  .option('--headless', 'no Web UI')
  .action(async (opts: { port: number; uiPort?: number; db: string; headless?: boolean }) => {
    const server = await startDevServer({
      port: opts.port,
      uiPort: opts.uiPort,
      dbFile: opts.db,
      headless: opts.headless,
      log,
    });
    console.log(`Temporal dev server at ${server.address}; history in ${opts.db}`);
    if (server.uiUrl) console.log(`Web UI: ${server.uiUrl}`);
    console.log('Press Ctrl-C to stop.');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await server.stop();
  });

interface WorkerFlags {
  controlOnly?: boolean;
  trainOnly?: boolean;
  slot: string;
  gpus?: string;
  slots?: number;
  workdir?: string;
  sandbox?: boolean;
  agentCommand: string[];
  passEnv: string[];
}

/** A repeatable option's values, in order. */
const collect = (value: string, previous: string[]) => [...previous, value];

program
  .command('worker')
  .description('run a worker: workflows and control steps, and training slots (one per GPU)')
  .option('--control-only', 'no training slot (e.g. on a CPU-only machine)')
  .option('--train-only', 'only train (e.g. on each GPU of a GPU box)')
  .option('--slot <name>', "this training slot's name on this machine", 'gpu0')
  .option(
    '--gpus <ids>',
    'one training slot per GPU, pinned with CUDA_VISIBLE_DEVICES: 0,1,2,3 (0+1,2+3: two GPUs a slot)',
  )
  .option('--slots <n>', 'training slots without GPU pinning (CPU targets)', (v) => positiveInt(v))
  .option(
    '--workdir <dir>',
    "where training keeps its clones of runs' git remotes (runs started with --remote)",
    (v) => path.resolve(v),
  )
  .option(
    '--sandbox',
    'run candidate code (training, set-up, evaluation) in a bubblewrap sandbox: own PID and network namespace, ' +
      'read-only file system but the slot, home directory hidden (the default; AUTORESEARCH_SANDBOX=on)',
  )
  .option(
    '--no-sandbox',
    'run candidate code unsandboxed, as this user (also AUTORESEARCH_SANDBOX=off): only where bubblewrap cannot run',
  )
  .option(
    '--agent-command <cli>',
    'a command the command proposer may run, exactly as runs name it (--proposer-command); repeatable; also AUTORESEARCH_AGENT_COMMANDS, one a line. A run naming any other is paused, its command not run',
    collect,
    [],
  )
  .option(
    '--pass-env <names>',
    'secrets such an agent may see when its run asks for them (--proposer-env), comma-separated; also AUTORESEARCH_PASS_ENV',
    collect,
    [],
  )
  .action(async (opts: WorkerFlags) => {
    if (opts.controlOnly && opts.trainOnly)
      throw new Error('--control-only and --train-only exclude each other; pass one.');
    // Checked before anything is installed or connected: a name that is not one is said at once.
    const agents = agentAllowlist({ agentCommands: opts.agentCommand, passEnv: opts.passEnv });
    const extraPath = opts.controlOnly ? [] : await ensureUv(log);
    const sandbox = sandboxWanted(opts.sandbox);
    if (sandbox && !opts.controlOnly) {
      await ensureBubblewrap(log);
      // Said at once, before waiting for a server: a worker that cannot sandbox never takes a training.
      checkSandbox(bubblewrap());
    }
    const settings = temporalSettings();
    // A worker may come up before its server (a Compose stack, a reboot): it waits for it, within bounds.
    const connection = await connectWorkerConnection(settings, { retryForMs: 120_000, log });
    const workers = await createWorkers({
      connection,
      namespace: settings.namespace,
      control: !opts.trainOnly,
      train: !opts.controlOnly,
      slot: opts.slot,
      gpus: opts.gpus,
      slots: opts.slots,
      extraPath,
      workdir: opts.workdir,
      sandbox,
      agentCommands: agents.commands,
      passEnv: agents.passEnv,
    });
    console.log(`worker polling ${settings.address} (${settings.namespace}); Ctrl-C to stop`);
    await runWorkers(workers);
    await connection.close();
  });

program
  .command('start')
  .description('start a research run on a target repository')
  .argument(
    '<repo>',
    'git repository of the target (karpathy/autoresearch layout, or with autoresearch.toml)',
  )
  .requiredOption(
    '-t, --tag <tag>',
    'name of the run: branch autoresearch/<tag>, workflow autoresearch-<tag>',
  )
  .addOption(
    new Option(
      '--proposer <kind>',
      'who writes the edits: claude (Anthropic API), mutate (offline) or command (an agent CLI)',
    )
      .choices(['mutate', 'claude', 'command'])
      .default(process.env.ANTHROPIC_API_KEY ? 'claude' : 'mutate'),
  )
  .option('--model <model>', 'claude proposer: the model', DEFAULT_CLAUDE.model)
  .option('--max-tokens <n>', 'claude proposer: max output tokens', positiveInt, DEFAULT_CLAUDE.maxTokens)
  .option('--thinking <tokens>', 'claude proposer: extended thinking budget (>= 1024)', positiveInt)
  .option(
    '--proposer-command <cli>',
    'command proposer: run in a worktree; the prompt is in $AUTORESEARCH_PROMPT_FILE (the control worker must allow it: worker --agent-command)',
  )
  .option('--proposer-timeout <seconds>', 'command proposer: time limit', positiveSeconds, 600)
  .option(
    '--proposer-env <names>',
    'command proposer: secrets it may see, comma-separated (e.g. ANTHROPIC_API_KEY), if the worker allows them (worker --pass-env); all others are removed',
    (v) =>
      v
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean),
  )
  .option('--max-spend <dollars>', 'end the run once proposals have cost this much', positiveSeconds)
  .option('--max-spend-tokens <n>', 'end the run once proposals have used this many tokens', positiveInt)
  .option('-n, --max-experiments <n>', 'experiments after the baseline (default: until stopped)', positiveInt)
  .option(
    '--deadline <when>',
    'start no experiment after this: 2026-11-28T07:00, or 8h, 90m, 2d from now',
    (v) => parseDeadline(v),
  )
  .option('--budget <seconds>', "override the target's training budget", positiveSeconds)
  .option('--timeout <seconds>', "override the target's hard timeout", positiveSeconds)
  .option('--seed <n>', 'seed of the mutate proposer', positiveInt, 0)
  .option(
    '--remote <url>',
    'a git remote every worker reaches (e.g. git@host:target.git): training workers on other machines fetch the candidates from it',
  )
  .option(
    '--parallel <n>',
    'experiments in flight at once, one per training slot (GPU)',
    (v) => positiveInt(v),
    START_DEFAULTS.parallel,
  )
  .option(
    '--noise-runs <n>',
    "train the baseline this many times with different seeds (repeats of the identical run, for a target that sets no seed) to measure the metric's noise (1: once)",
    (v) => positiveInt(v),
    START_DEFAULTS.noiseRuns,
  )
  .option(
    '--keep-rule <rule>',
    'strict: any better metric keeps (autoresearch); noise-aware: a gain the noise could explain is confirmed with more seeds first (default when the noise is measured)',
    keepRuleName,
  )
  .option(
    '--noise-margin <k>',
    'noise-aware: standard errors a gain must exceed',
    (v) => positiveNumber(v),
    START_DEFAULTS.noiseMargin,
  )
  .option(
    '--confirm-runs <n>',
    'noise-aware: more seeds a doubtful candidate trains before its mean decides',
    (v) => positiveInt(v),
    START_DEFAULTS.confirmRuns,
  )
  .option(
    '--noise-stale-after <n>',
    'noise-aware: keeps after which the next keep is confirmed too, measuring the noise again',
    (v) => positiveInt(v),
    START_DEFAULTS.noiseStaleAfter,
  )
  .option(
    '--no-pipeline',
    'propose only once a slot is free (default: the next proposal is made while training)',
  )
  .option('--wait', 'follow the run until it ends and print its results')
  .action(
    async (
      repo: string,
      opts: {
        tag: string;
        proposer: ProposerKind;
        model: string;
        maxTokens: number;
        thinking?: number;
        maxSpend?: number;
        maxSpendTokens?: number;
        proposerCommand?: string;
        proposerTimeout: number;
        proposerEnv?: string[];
        maxExperiments?: number;
        deadline?: Date;
        budget?: number;
        timeout?: number;
        seed: number;
        remote?: string;
        parallel: number;
        pipeline: boolean;
        noiseRuns: number;
        keepRule?: 'strict' | 'noise-aware';
        noiseMargin: number;
        confirmRuns: number;
        noiseStaleAfter: number;
        wait?: boolean;
      },
    ) => {
      const client = await connectClient(temporalSettings(), CLIENT_RETRY);
      // Said before the target is checked: the running run's branch would otherwise be the complaint.
      const running = await runHandle(client, opts.tag)
        .describe()
        .then((d) => d.status.name === 'RUNNING')
        .catch(() => false);
      if (running)
        throw new Error(
          `A run with tag "${opts.tag}" is already running (workflow autoresearch-${opts.tag}): watch it with ` +
            `\`autoresearch status --tag ${opts.tag}\`, end it with \`autoresearch stop --tag ${opts.tag}\`, ` +
            'or start another run with a new --tag.',
        );
      const handle = await startRun(client, {
        repo,
        tag: opts.tag,
        proposer: opts.proposer,
        maxExperiments: opts.maxExperiments,
        deadline: opts.deadline,
        budgetSeconds: opts.budget,
        timeoutSeconds: opts.timeout,
        seed: opts.seed,
        remote: opts.remote,
        parallel: opts.parallel,
        pipeline: opts.pipeline,
        noiseRuns: opts.noiseRuns,
        keepRule: opts.keepRule,
        noiseMargin: opts.noiseMargin,
        confirmRuns: opts.confirmRuns,
        noiseStaleAfter: opts.noiseStaleAfter,
        claude: { model: opts.model, maxTokens: opts.maxTokens, thinkingBudget: opts.thinking },
        command: opts.proposerCommand
          ? { command: opts.proposerCommand, timeoutSeconds: opts.proposerTimeout, passEnv: opts.proposerEnv }
          : undefined,
        maxDollars: opts.maxSpend,
        maxTokens: opts.maxSpendTokens,
      });
      console.log(`started ${handle.workflowId} (proposer: ${opts.proposer})`);
      // The baseline is whatever was checked out, a branch tip or a detached commit alike: say which.
      const target = await Repo.open(repo);
      const at = handle.baseline.slice(0, 7);
      const on = (await target.raw(['rev-parse', '--abbrev-ref', 'HEAD'])).trim();
      console.log(
        `baseline: ${at}, ${on === 'HEAD' ? 'the detached HEAD' : `the tip of ${on}`} in ${target.root}`,
      );
      const ui = uiUrlFor(temporalSettings());
      if (ui) console.log(`Web UI: ${runUiUrl(ui, client.options.namespace, opts.tag)}`);
      if (opts.wait) {
        const summary = await followRun<RunSummary>(handle, {
          onExperiment: (r) =>
            console.log(`exp ${r.n} ${r.status} ${r.metric?.toFixed(6) ?? '-'} ${r.description}`),
        });
        console.log(summaryText(summary));
      }
      await client.connection.close();
    },
  );

program
  .command('status')
  .description("print a run's status")
  .addOption(tagOption())
  .option('--json', 'machine-readable (one JSON object; one per change with --watch)')
  .option('--watch', 'a live view, redrawn in place, until the run ends')
  .action(async (opts: { tag?: string; json?: boolean; watch?: boolean }) => {
    await withRun(opts.tag, async (client, tag) => {
      const handle = runHandle(client, tag);
      const ended = (err: Error) => console.log(`run ended: ${err.message}`);
      if (opts.watch && opts.json) {
        let last = '';
        await followRun(handle, {
          onStatus: (s) => {
            const text = JSON.stringify(s);
            if (text !== last) console.log(text);
            last = text;
          },
        }).catch(ended);
      } else if (opts.watch) {
        await watchLive(handle).catch(ended);
        console.log(statusText(await queryStatus(client, tag)));
      } else {
        const status = await queryStatus(client, tag);
        console.log(opts.json ? JSON.stringify(status) : statusText(status));
      }
    });
  });

program
  .command('pause')
  .description('finish the experiment in flight (or cancel it with --now), then wait for resume')
  .addOption(tagOption())
  .option('--now', 'cancel the experiment in flight; it is recorded as cancelled')
  .action(async (opts: { tag?: string; now?: boolean }) => {
    await withRun(opts.tag, async (client, tag) => {
      await runHandle(client, tag).signal(pauseSignal, opts.now ? { now: true } : {});
      console.log(`pause${opts.now ? ' --now' : ''} sent to run ${tag}`);
    });
  });

for (const [name, signal, help] of [
  ['resume', resumeSignal, 'continue a paused run'],
  ['stop', stopSignal, 'finish the experiment in flight, then end the run with a summary'],
] as const) {
  program
    .command(name)
    .description(help)
    .addOption(tagOption())
    .action(async (opts: { tag?: string }) => {
      await withRun(opts.tag, async (client, tag) => {
        await runHandle(client, tag).signal(signal);
        console.log(`${name} sent to run ${tag}`);
      });
    });
}

program
  .command('redirect')
  .description('give every later proposal a note from you (e.g. "focus on the optimizer")')
  .argument('<note>')
  .addOption(tagOption())
  .action(async (note: string, opts: { tag?: string }) => {
    await withRun(opts.tag, async (client, tag) => {
      const notes = await sendUpdate(() =>
        runHandle(client, tag).executeUpdate(redirectUpdate, { args: [note] }),
      );
      console.log(`run ${tag} has ${notes.length} note(s); the next proposal sees them`);
    });
  });

program
  .command('queue')
  .description("an idea for the next experiment, before the proposer's own (mutate: NAME=value)")
  .argument('<idea>')
  .addOption(tagOption())
  .action(async (idea: string, opts: { tag?: string }) => {
    await withRun(opts.tag, async (client, tag) => {
      const queue = await sendUpdate(() =>
        runHandle(client, tag).executeUpdate(queueUpdate, { args: [idea] }),
      );
      console.log(
        `run ${tag}: ${queue.length} idea(s) queued: ${queue.map((i) => JSON.stringify(i)).join(', ')}`,
      );
    });
  });

program
  .command('limits')
  .description('change the limits of a live run')
  .addOption(tagOption())
  .option('-n, --max-experiments <n|none>', 'experiments after the baseline; none = until stopped', (v) =>
    v === 'none' ? null : positiveInt(v),
  )
  .option(
    '--deadline <when|none>',
    'start no experiment after this (ISO, or 8h, 90m, 2d from now); none = no deadline',
    (v) => (v === 'none' ? null : parseDeadline(v).toISOString()),
  )
  .action(async (opts: { tag?: string; maxExperiments?: number | null; deadline?: string | null }) => {
    if (opts.maxExperiments === undefined && opts.deadline === undefined)
      throw new Error('say what to change: --max-experiments <n|none> and/or --deadline <when|none>');
    await withRun(opts.tag, async (client, tag) => {
      const change = {
        ...(opts.maxExperiments !== undefined ? { maxExperiments: opts.maxExperiments } : {}),
        ...(opts.deadline !== undefined ? { deadline: opts.deadline } : {}),
      };
      const limits = await sendUpdate(() =>
        runHandle(client, tag).executeUpdate(limitsUpdate, { args: [change] }),
      );
      console.log(
        `run ${tag}: max experiments ${limits.maxExperiments ?? 'none'}, deadline ${limits.deadline ?? 'none'}`,
      );
    });
  });

program
  .command('plot')
  .description("draw a run's progress chart (metric per experiment, running best) as SVG and PNG")
  .addOption(tagOption())
  .option('-o, --out <dir>', 'where to write progress.svg and progress.png (default: the run directory)')
  .action(async (opts: { tag?: string; out?: string }) => {
    await withRun(opts.tag, async (client, tag) => {
      const status = await queryStatus(client, tag);
      const records = allRecords(status);
      const dir = path.resolve(opts.out ?? status.runDir ?? '.');
      // Loaded here only: the charting library is large and no other command needs it.
      const { writeProgressChart } = await import('../store/chart');
      const written = await writeProgressChart(dir, records, {
        metricName: status.metricName ?? 'metric',
        direction: status.direction ?? 'minimize',
        title: `autoresearch ${tag}`,
      });
      console.log(`${records.length} experiments plotted:\n  ${written.svgPath}\n  ${written.pngPath}`);
    });
  });

program
  .command('results')
  .description("print a run's results")
  .addOption(tagOption())
  .option('--tsv', "autoresearch's results.tsv format")
  .option('--json', 'machine-readable')
  .action(async (opts: { tag?: string; tsv?: boolean; json?: boolean }) => {
    await withRun(opts.tag, async (client, tag) => {
      const status = await queryStatus(client, tag);
      const records = allRecords(status);
      if (opts.json) console.log(JSON.stringify(records));
      else if (opts.tsv) process.stdout.write(formatResultsTsv(records, status.metricName ?? undefined));
      else console.log(`${resultsTable(records, status.metricName ?? 'metric')}\n${statusText(status)}`);
    });
  });

program
  .command('demo')
  .description('the whole thing on the bundled CPU example: server, worker, a run, live progress, results')
  .option('-n, --max-experiments <n>', 'experiments after the baseline', positiveInt, 5)
  .option('--budget <seconds>', 'training budget per experiment', positiveSeconds)
  .option('--keep-server', 'keep the embedded server (and its Web UI) up after the run, until Ctrl-C')
  .action(async (opts: { maxExperiments: number; budget?: number; keepServer?: boolean }) => {
    await runDemo({
      maxExperiments: opts.maxExperiments,
      budgetSeconds: opts.budget,
      keepServer: opts.keepServer ?? Boolean(process.stdout.isTTY && !process.env.CI),
      ensureServer: () => ensureServer(log),
      log,
    });
  });

program.parseAsync().then(
  () => process.exit(0),
  (err: Error) => {
    // The error as it came, always; a hint beside it when it says no server answered.
    console.error(`autoresearch: ${err.message}`);
    if (isConnectionError(err)) console.error(`autoresearch: ${noServerHint(temporalSettings().address)}`);
    process.exit(1);
  },
);
