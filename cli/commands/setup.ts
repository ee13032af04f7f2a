// `autoresearch setup`: install what runs need (the Temporal CLI, uv) ahead of the first run.
import type { Command } from 'commander';
import { ensureUv } from '../../target/pythonTools';
import { ensureTemporalCli, NO_TEMPORAL_CLI_HELP } from '../../temporal/cliProvisioning';
import { log } from '../session';

export function addSetupCommand(program: Command): void {
  program
    .command('setup')
    .description('install what runs need: the Temporal CLI (dev server + Web UI) and uv')
    .action(async () => {
      const cli = await ensureTemporalCli(log);
      console.log(cli ? `temporal CLI: ${cli}` : `temporal CLI: not installed. ${NO_TEMPORAL_CLI_HELP}`);
      const uvPath = await ensureUv(log);
      console.log(`uv: ${uvPath.length ? `${uvPath[0]}/uv` : 'on PATH'}`);
    });
}
