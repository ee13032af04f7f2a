// results.tsv in karpathy/autoresearch's exact format: a projection of the experiment records, so
// rewriting it after a retry gives the same file.
import type { ExperimentRecord } from './types';

export const RESULTS_HEADER = 'commit\tval_bpb\tmemory_gb\tstatus\tdescription';

/** autoresearch knows keep|discard|crash; the finer failures (timeout, invalid) are crashes there. */
export function tsvStatus(status: ExperimentRecord['status']): 'keep' | 'discard' | 'crash' {
  return status === 'keep' || status === 'discard' ? status : 'crash';
}

export function resultsRow(record: ExperimentRecord): string {
  const crashed = tsvStatus(record.status) === 'crash';
  const metric = crashed || record.metric === undefined ? 0 : record.metric;
  const memory = crashed || record.memoryGb === undefined ? 0 : record.memoryGb;
  // Tabs and newlines would break the columns; a description is one line.
  // An experiment trained with several seeds (or repeated) shows each run (its metric is their mean).
  const runs =
    record.runs && record.runs.metrics.length > 1
      ? ` [mean of ${record.runs.metrics.length} ${record.runs.by === 'repeat' ? 'repeats' : 'seeds'}: ${record.runs.metrics.map((m) => m.toFixed(6)).join(' ')}]`
      : '';
  const description = record.description.replace(/[\t\r\n]+/g, ' ').trim() + runs;
  return [
    record.commit.slice(0, 7),
    metric.toFixed(6),
    memory.toFixed(1),
    tsvStatus(record.status),
    description,
  ].join('\t');
}

export function formatResultsTsv(records: ExperimentRecord[]): string {
  const sorted = [...records].sort((a, b) => a.n - b.n);
  return [RESULTS_HEADER, ...sorted.map(resultsRow)].join('\n') + '\n';
}
