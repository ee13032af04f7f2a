// `autoresearch worker`: a control worker and training slots on this machine, polling until Ctrl-C.
import type { Command } from 'commander';
import path from 'node:path';
import { temporalSettings } from '../../temporal/connection';
import { ensureUv } from '../../target/pythonTools';
import { bubblewrap, checkSandbox, ensureBubblewrap, sandboxWanted } from '../../training/sandbox';
import { agentAllowlist } from '../../proposers/command/allowlist';
import { collect, positiveInt } from '../parse';
import { log } from '../session';

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

export function addWorkerCommand(program: Command): void {
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
      // The worker side (the worker SDK, its native core, every activity) loads only when a worker runs,
      // not for every other command the CLI answers.
      const [{ installQuietRuntime }, { connectWorkerConnection }, { createWorkers, runWorkers }] =
        await Promise.all([
          import('../../temporal/logging'),
          import('../../temporal/workerConnection'),
          import('../../worker'),
        ]);
      installQuietRuntime();
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
}
