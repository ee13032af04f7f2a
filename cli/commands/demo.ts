// `autoresearch demo` (`npm start`): the whole loop on the bundled CPU example.
import type { Command } from 'commander';
import { ensureServer } from '../server';
import { positiveInt, positiveSeconds } from '../parse';
import { log } from '../session';

export function addDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('the whole thing on the bundled CPU example: server, worker, a run, live progress, results')
    .option('-n, --max-experiments <n>', 'experiments after the baseline', positiveInt, 5)
    .option('--budget <seconds>', 'training budget per experiment', positiveSeconds)
    .option('--keep-server', 'keep the embedded server (and its Web UI) up after the run, until Ctrl-C')
    .action(async (opts: { maxExperiments: number; budget?: number; keepServer?: boolean }) => {
      // The demo runs a worker: the worker side loads only for it (see cli/commands/worker.ts).
      const [{ installQuietRuntime }, { runDemo }] = await Promise.all([
        import('../../temporal/logging'),
        import('../demo'),
      ]);
      installQuietRuntime();
      await runDemo({
        maxExperiments: opts.maxExperiments,
        budgetSeconds: opts.budget,
        keepServer: opts.keepServer ?? Boolean(process.stdout.isTTY && !process.env.CI),
        ensureServer: () => ensureServer(log),
        log,
      });
    });
}
