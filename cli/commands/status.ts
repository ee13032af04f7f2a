// `autoresearch status`: a run's status, once, as JSON, or live until the run ends.
import type { Command } from 'commander';
import { runHandle } from '../../client';
import { queryStatus } from '../findRun';
import { statusText } from '../render';
import { followRun } from '../watch';
import { watchLive } from '../liveView';
import { tagOption } from '../parse';
import { withRun } from '../session';

export function addStatusCommand(program: Command): void {
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
}
