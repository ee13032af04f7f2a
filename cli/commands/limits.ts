// `autoresearch limits`: change a live run's experiment count or deadline.
import type { Command } from 'commander';
import { runHandle } from '../../client';
import { limitsUpdate } from '../../workflows/messages';
import { parseDeadline, positiveInt, tagOption } from '../parse';
import { sendUpdate, withRun } from '../session';

export function addLimitsCommand(program: Command): void {
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
}
