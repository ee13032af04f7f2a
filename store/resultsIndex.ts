// The results index (`results.index.jsonl` in the run directory): results.tsv's compact cache, so that
// adding one record costs the same at experiment 10,000 as at 100. Line 1 says what results.tsv's header
// is (the metric, whether there is a memory column); then one line per record in experiment order: what
// results.tsv, the progress chart and the prompt show of it, its position, and the byte where its row ends
// in results.tsv. A record after the last is appended to both files; one that arrives out of order (with
// --parallel, decisions come in finishing order) rewrites in place the few rows after its place, found
// from the end.
// results.tsv stays byte for byte formatResultsTsv(all records). The records stay the truth: an index that
// is missing (a run begun by older code), damaged (a crash mid-write) or out of step with results.tsv is
// rebuilt from them, the only time this module reads every record.
import { closeSync, fstatSync, ftruncateSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { hasMemoryColumn, resultsHeader, resultsRow, type ResultFields } from './resultsTsv';
import { readRecords, resultsPath, writeAtomically } from './runDirectory';

export function resultsIndexPath(runDir: string): string {
  return path.join(runDir, 'results.index.jsonl');
}

interface IndexHeader {
  metricName: string;
  memoryColumn: boolean;
}

/** One record's line: its place among the records (`i`, from 0) and where its row ends in results.tsv. */
interface ResultEntry extends ResultFields {
  i: number;
  end: number;
}

/** The end of the index as read: its header, and its last entries with the byte each line starts at. */
interface Tail {
  header: IndexHeader;
  entries: (ResultEntry & { offset: number })[];
  size: number;
}

/** The fields results.tsv shows, in a fixed order (so two equal records give equal lines). */
function resultFields(r: ResultFields): ResultFields {
  return {
    n: r.n,
    commit: r.commit,
    status: r.status,
    metric: r.metric,
    memoryGb: r.memoryGb,
    description: r.description,
    runs: r.runs,
  };
}

const sameFields = (a: ResultFields, b: ResultFields) =>
  JSON.stringify(resultFields(a)) === JSON.stringify(resultFields(b));

const byteLength = (text: string) => Buffer.byteLength(text);

/**
 * Adds (or, for a retry, finds) one record in the index and results.tsv. Idempotent: a retry, or the same
 * record again in any order, leaves both files as they were. The record's own file is written first.
 */
export function addResult(runDir: string, record: ResultFields, metricName = 'val_bpb'): void {
  const fields = resultFields(record);
  const tail = readTail(resultsIndexPath(runDir), (entries) => entries[0]!.n < fields.n);
  const memoryColumn = tail?.header.memoryColumn === true || hasMemoryColumn([fields], metricName);
  // A new memory column changes every row; a new metric name, the header: both are rare, rewrite all.
  if (!tail || tail.header.metricName !== metricName || tail.header.memoryColumn !== memoryColumn)
    return rebuildResults(runDir, metricName);
  const { entries } = tail;
  const headerBytes = byteLength(resultsHeader(metricName, memoryColumn)) + 1;
  // A crash between the index and results.tsv leaves results.tsv short: the truth is in the records.
  if (fileSize(resultsPath(runDir)) !== (entries.at(-1)?.end ?? headerBytes))
    return rebuildResults(runDir, metricName);

  const at = entries.findIndex((e) => e.n >= fields.n);
  const found = at >= 0 && entries[at]!.n === fields.n ? entries[at]! : undefined;
  if (found) return sameFields(found, fields) ? undefined : rebuildResults(runDir, metricName); // a retry
  // The tail reaches back past this record's place (or to the first record), so its predecessor is here.
  const before = at < 0 ? entries.at(-1) : entries[at - 1];
  const after = at < 0 ? [] : entries.slice(at);
  const rows: string[] = [];
  const lines: string[] = [];
  let i = before ? before.i + 1 : 0;
  let end = before?.end ?? headerBytes;
  for (const f of [fields, ...after.map(resultFields)]) {
    const row = resultsRow(f, memoryColumn) + '\n';
    end += byteLength(row);
    rows.push(row);
    lines.push(JSON.stringify({ i: i++, end, ...f }) + '\n');
  }
  // Index first: a crash before results.tsv is written is seen above on the retry (results.tsv short).
  replaceFrom(resultsIndexPath(runDir), at < 0 ? tail.size : entries[at]!.offset, lines.join(''));
  replaceFrom(resultsPath(runDir), before?.end ?? headerBytes, rows.join(''));
}

/** Rewrites the index and results.tsv from every record: a new index, or one that cannot be trusted. */
export function rebuildResults(runDir: string, metricName = 'val_bpb'): void {
  const records = readRecords(runDir).map(resultFields);
  const memoryColumn = hasMemoryColumn(records, metricName);
  const header = resultsHeader(metricName, memoryColumn) + '\n';
  const rows: string[] = [header];
  const lines: string[] = [JSON.stringify({ metricName, memoryColumn } satisfies IndexHeader) + '\n'];
  let end = byteLength(header);
  records.forEach((f, i) => {
    const row = resultsRow(f, memoryColumn) + '\n';
    end += byteLength(row);
    rows.push(row);
    lines.push(JSON.stringify({ i, end, ...f }) + '\n');
  });
  writeAtomically(resultsIndexPath(runDir), lines.join(''));
  writeAtomically(resultsPath(runDir), rows.join(''));
}

/** Every entry, in experiment order (for the chart); null when the run has no index yet. */
export function readResultEntries(runDir: string): ResultEntry[] | null {
  return readTail(resultsIndexPath(runDir), () => false, Infinity)?.entries ?? null;
}

/** The last `count` entries and how many there are in all (for the prompt); null when there is no index. */
export function recentResults(
  runDir: string,
  count: number,
): { total: number; recent: ResultEntry[] } | null {
  const tail = readTail(resultsIndexPath(runDir), (entries) => entries.length >= count);
  if (!tail) return null;
  const recent = tail.entries.slice(-count);
  return { total: (recent.at(-1)?.i ?? -1) + 1, recent };
}

/**
 * Reads the index from its end, a growing chunk at a time, until `enough` holds for the entries read (it
 * is asked only once there are some) or the start is reached. Null when the file is missing or damaged
 * (a line cut short, or not JSON).
 */
function readTail(
  file: string,
  enough: (entries: Tail['entries']) => boolean,
  firstChunk = 16_384,
): Tail | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const size = fstatSync(fd).size;
    const header = parseLine<IndexHeader>(readLines(fd, 0, Math.min(size, 4096))[0]?.text);
    if (!header || typeof header.metricName !== 'string') return null;
    for (let bytes = firstChunk; ; bytes *= 4) {
      const start = Math.max(0, size - bytes);
      const lines = readLines(fd, start, size - start);
      if (lines.length === 0 && start > 0) continue; // one line longer than the chunk
      if (size > 0 && lines.at(-1)?.end !== size) return null; // the last line has no newline
      const entries: Tail['entries'] = [];
      for (const line of start === 0 ? lines.slice(1) : lines) {
        const entry = parseLine<ResultEntry>(line.text);
        if (!entry || typeof entry.n !== 'number') return null;
        entries.push({ ...entry, offset: line.offset });
      }
      if (start === 0 || (entries.length > 0 && enough(entries))) return { header, entries, size };
    }
  } finally {
    closeSync(fd);
  }
}

/** The whole lines (ending in a newline) that lie in `length` bytes from `start`, with their offsets. */
function readLines(
  fd: number,
  start: number,
  length: number,
): { text: string; offset: number; end: number }[] {
  const buffer = Buffer.alloc(length);
  const read = readSync(fd, buffer, 0, length, start);
  const lines: { text: string; offset: number; end: number }[] = [];
  // A chunk that starts mid-file starts mid-line: its first whole line begins after the first newline.
  let from = start === 0 ? 0 : buffer.indexOf(10) + 1;
  if (start > 0 && from === 0) return lines;
  for (let nl = buffer.indexOf(10, from); nl >= 0 && nl < read; nl = buffer.indexOf(10, from)) {
    lines.push({ text: buffer.toString('utf8', from, nl), offset: start + from, end: start + nl + 1 });
    from = nl + 1;
  }
  return lines;
}

function parseLine<T>(text: string | undefined): T | null {
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return -1;
  }
}

/**
 * Replaces the file's bytes from `offset` on with `text`, in place by one write: at the end, an append;
 * inside (a record out of order), the last few rows, which a copy of the whole file would make cost as
 * much as the run is long. A reader reading at that instant may see those rows mid-change (the index's
 * readers see a torn line and fall back to the records); at rest the file is whole. A crash mid-write is
 * seen by the next step (a damaged index, or results.tsv not ending where the index says), which rebuilds.
 */
function replaceFrom(file: string, offset: number, text: string): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, text, offset);
    ftruncateSync(fd, offset + byteLength(text));
  } finally {
    closeSync(fd);
  }
}
