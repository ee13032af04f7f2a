// `autoresearch pause`: finish (or with --now cancel) the experiment in flight, then wait for resume.
import type { Command } from 'commander';
import { runHandle } from '../../client';
import { pauseSignal } from '../../workflows/messages';
import { tagOption } from '../parse';
import { withRun } from '../session';

export function addPauseCommand(program: Command): void {
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
}
