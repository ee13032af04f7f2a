// `autoresearch plot`: draw a run's progress chart as SVG and PNG.
import type { Command } from 'commander';
import path from 'node:path';
import { allRecords, queryStatus } from '../findRun';
import { tagOption } from '../parse';
import { withRun } from '../session';

export function addPlotCommand(program: Command): void {
  program
    .command('plot')
    .description("draw a run's progress chart (metric per experiment, running best) as SVG and PNG")
    .addOption(tagOption())
    .option('-o, --out <dir>', 'where to write progress.svg and progress.png (default: the run directory)')
    .action(async (opts: { tag?: string; out?: string }) => {
      await withRun(opts.tag, async (client, tag) => {
        const status = await queryStatus(client, tag);
        const records = allRecords(status);
        const dir = path.resolve(opts.out ?? status.runDir ?? '.');
        // Loaded here only: the charting library is large and no other command needs it.
        const { writeProgressChart } = await import('../../store/chart');
        const written = await writeProgressChart(dir, records, {
          metricName: status.metricName ?? 'metric',
          direction: status.direction ?? 'minimize',
          title: `autoresearch ${tag}`,
        });
        console.log(`${records.length} experiments plotted:\n  ${written.svgPath}\n  ${written.pngPath}`);
      });
    });
}
