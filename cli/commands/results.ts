// `autoresearch results`: a run's results as a table, results.tsv or JSON.
import type { Command } from 'commander';
import { allRecords, queryStatus } from '../findRun';
import { resultsTable, statusText } from '../render';
import { tagOption } from '../parse';
import { formatResultsTsv } from '../../store/resultsTsv';
import { withRun } from '../session';

export function addResultsCommand(program: Command): void {
  program
    .command('results')
    .description("print a run's results")
    .addOption(tagOption())
    .option('--tsv', "autoresearch's results.tsv format")
    .option('--json', 'machine-readable')
    .action(async (opts: { tag?: string; tsv?: boolean; json?: boolean }) => {
      await withRun(opts.tag, async (client, tag) => {
        const status = await queryStatus(client, tag);
        const records = allRecords(status);
        if (opts.json) console.log(JSON.stringify(records));
        else if (opts.tsv) process.stdout.write(formatResultsTsv(records, status.metricName ?? undefined));
        else console.log(`${resultsTable(records, status.metricName ?? 'metric')}\n${statusText(status)}`);
      });
    });
}
