// `autoresearch redirect`: a note every later proposal of the run sees.
import type { Command } from 'commander';
import { runHandle } from '../../client';
import { redirectUpdate } from '../../workflows/messages';
import { tagOption } from '../parse';
import { sendUpdate, withRun } from '../session';

export function addRedirectCommand(program: Command): void {
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
}
