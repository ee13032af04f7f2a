// `autoresearch queue`: an idea the next experiment tries before the proposer's own.
import type { Command } from 'commander';
import { runHandle } from '../../client';
import { queueUpdate } from '../../workflows/messages';
import { tagOption } from '../parse';
import { sendUpdate, withRun } from '../session';

export function addQueueCommand(program: Command): void {
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
}
