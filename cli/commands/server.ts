// `autoresearch server`: the embedded Temporal dev server with its Web UI and a persistent SQLite file.
import type { Command } from 'commander';
import { temporalSettings } from '../../temporal/connection';
import { startDevServer } from '../../temporal/devServer';
import { defaultDbFile, portOf } from '../server';
import { positiveInt } from '../parse';
import { log } from '../session';

export function addServerCommand(program: Command): void {
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
}
