// results.tsv in karpathy/autoresearch's exact format: a projection of the experiment records, so
// rewriting it after a retry gives the same file. For karpathy's layout (metric val_bpb) the header is
// karpathy's own; another target's metric column is named after its metric, and the memory column is
// there only when the target reports memory (the 4-column file autoresearch-style programs ask for).
import type { ExperimentRecord } from '../common/types';

/** What a row of results.tsv shows of a record (and all the results index keeps of it). */
export type ResultFields = Pick<
  ExperimentRecord,
  'n' | 'commit' | 'status' | 'metric' | 'memoryGb' | 'description' | 'runs'
>;

/** karpathy/autoresearch's header, for its layout (metric val_bpb, memory from peak_vram_mb). */
export const RESULTS_HEADER = 'commit\tval_bpb\tmemory_gb\tstatus\tdescription';

/** Whether results.tsv has a memory column: always for karpathy's layout, else once memory is reported. */
export function hasMemoryColumn(records: ResultFields[], metricName: string): boolean {
  return metricName === 'val_bpb' || records.some((r) => r.memoryGb !== undefined);
}

/** autoresearch knows keep|discard|crash; the finer failures (timeout, invalid) are crashes there. */
export function tsvStatus(status: ExperimentRecord['status']): 'keep' | 'discard' | 'crash' {
  return status === 'keep' || status === 'discard' ? status : 'crash';
}

export function resultsRow(record: ResultFields, memoryColumn = true): string {
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
    ...(memoryColumn ? [memory.toFixed(1)] : []),
    tsvStatus(record.status),
    description,
  ].join('\t');
}

/** The header line (without its newline): karpathy's own for val_bpb, else named after the metric. */
export function resultsHeader(metricName: string, memoryColumn: boolean): string {
  return ['commit', metricName, ...(memoryColumn ? ['memory_gb'] : []), 'status', 'description'].join('\t');
}

/** The whole file; `metricName` is the target's metric (absent: karpathy's val_bpb). */
export function formatResultsTsv(records: ResultFields[], metricName = 'val_bpb'): string {
  const sorted = [...records].sort((a, b) => a.n - b.n);
  const memory = hasMemoryColumn(records, metricName);
  return [resultsHeader(metricName, memory), ...sorted.map((r) => resultsRow(r, memory))].join('\n') + '\n';
}
