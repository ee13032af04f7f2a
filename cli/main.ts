// The `autoresearch` command line: one file per command in cli/commands/, wired here in the order
// `--help` lists them. Each command is wiring: parse, connect, call client.ts / worker.ts.
import { Command } from 'commander';
import { isConnectionError, noServerHint, temporalSettings } from '../temporal/connection';
import { addDemoCommand } from './commands/demo';
import { addLimitsCommand } from './commands/limits';
import { addPauseCommand } from './commands/pause';
import { addPlotCommand } from './commands/plot';
import { addQueueCommand } from './commands/queue';
import { addRedirectCommand } from './commands/redirect';
import { addResultsCommand } from './commands/results';
import { addResumeCommand } from './commands/resume';
import { addServerCommand } from './commands/server';
import { addSetupCommand } from './commands/setup';
import { addStartCommand } from './commands/start';
import { addStatusCommand } from './commands/status';
import { addStopCommand } from './commands/stop';
import { addWorkerCommand } from './commands/worker';

const program = new Command('autoresearch')
  .description(
    'Durable autonomous ML research on Temporal: propose, train, evaluate, keep or discard, forever.',
  )
  .showHelpAfterError();

for (const add of [
  addSetupCommand,
  addServerCommand,
  addWorkerCommand,
  addStartCommand,
  addStatusCommand,
  addPauseCommand,
  addResumeCommand,
  addStopCommand,
  addRedirectCommand,
  addQueueCommand,
  addLimitsCommand,
  addPlotCommand,
  addResultsCommand,
  addDemoCommand,
])
  add(program);

program.parseAsync().then(
  () => process.exit(0),
  (err: Error) => {
    // The error as it came, always; a hint beside it when it says no server answered.
    console.error(`autoresearch: ${err.message}`);
    if (isConnectionError(err)) console.error(`autoresearch: ${noServerHint(temporalSettings().address)}`);
    process.exit(1);
  },
);
