// Reading a training log the way autoresearch's program does with grep: the summary block after a
// `---` line, `key: value` at line start. Progress lines are `\r`-separated, so both \r and \n split lines.

/** Log lines, with carriage-return progress updates split apart. */
export function logLines(text: string): string[] {
  return text.split(/\r\n|\r|\n/);
}

/** The `key: value` pairs after the last `---` line (empty when the script never got there). */
export function parseSummary(text: string): Record<string, string> {
  const lines = logLines(text);
  const start = lines.lastIndexOf('---');
  if (start < 0) return {};
  const summary: Record<string, string> = {};
  for (const line of lines.slice(start + 1)) {
    const m = /^([A-Za-z_][\w.-]*):\s*(.*?)\s*$/.exec(line);
    if (m) summary[m[1]!] = m[2]!;
  }
  return summary;
}

/**
 * The metric's text as printed: the configured pattern's first capture, else `name: value` at line start.
 * The last match wins (a script may print intermediate evaluations).
 */
export function extractMetricText(text: string, name: string, pattern?: string): string | null {
  const re = pattern
    ? new RegExp(pattern, 'gm')
    : new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:[ \\t]*(\\S+)`, 'gm');
  let last: string | null = null;
  for (const line of logLines(text)) {
    re.lastIndex = 0;
    const m = re.exec(line);
    if (m && m[1] !== undefined) last = m[1];
  }
  return last;
}

/** The last `lines` non-empty lines of a log, each cut to a readable width. */
export function logTail(text: string, lines = 20, width = 300): string {
  return logLines(text)
    .filter((l) => l.trim())
    .slice(-lines)
    .map((l) => (l.length > width ? `${l.slice(0, width)}…` : l))
    .join('\n');
}
