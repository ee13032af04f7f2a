// How the bench prints: each figure next to the target it is held to, and whether it meets it. The bench
// never fails on a figure: it measures, a person judges.

export function section(title: string): void {
  console.log(`\n${title}`);
}

export function line(text: string): void {
  console.log(`  ${text}`);
}

/** A table (cli-table3, or any multi-line text), indented like every other line. */
export function block(table: { toString(): string }): void {
  for (const text of table.toString().split('\n')) line(text);
}

/** `duty cycle pipelined: 97.8% (target >= 97%) ok`. */
export function figure(label: string, value: string, target: string, met: boolean): void {
  line(`${label}: ${value} (target ${target}) ${met ? 'ok' : 'MISSED'}`);
}

export function percent(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

export function seconds(x: number, digits = 2): string {
  return Number.isFinite(x) ? `${x.toFixed(digits)} s` : 'n/a';
}
