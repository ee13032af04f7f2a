// The run's "current details" in the Web UI (Markdown): what it is doing now, the best so far, and the
// last results. Pure text from the state, so the workflow stays deterministic.
import type { ExperimentRecord } from '../common/types';
import { keepRuleInForce } from './keepRule';
import type { RunState } from './runState';

/** How many finished experiments the details list (the UI's panel is short: the newest first). */
const LISTED = 3;

export function currentDetails(state: RunState, now: string): string {
  const s = state.status();
  const metric = s.metricName ?? 'metric';
  // One bullet per fact: the UI renders Markdown, where single newlines would run lines together.
  const lines = [`**${now}**`, ''];
  lines.push(
    s.best
      ? `- Best ${metric}: **${s.best.metric.toFixed(6)}** (experiment ${s.best.n}, \`${s.best.commit.slice(0, 7)}\`)`
      : `- Best ${metric}: none yet`,
  );
  const c = s.counts;
  lines.push(
    `- Experiments: ${s.experimentsDone} done` +
      (s.maxExperiments !== null ? ` of ${s.maxExperiments + 1}` : '') +
      ` (${c.keep} kept, ${c.discard} discarded, ${c.crash + c.timeout + c.invalid} crashed` +
      (c.cancelled ? `, ${c.cancelled} cancelled` : '') +
      ')',
  );
  // Whichever rule was chosen, the one that decides now (strict until a noise above 0 is measured).
  if (s.keepRule?.rule === 'noise-aware')
    lines.push(`- Keep rule: ${keepRuleInForce(s.keepRule, s.noise, s.noiseBy)}`);
  if (s.deadline) lines.push(`- Deadline: ${s.deadline}`);
  if (s.notes.length) lines.push(`- Operator notes: ${s.notes.map((n) => `"${n}"`).join('; ')}`);
  if (s.queue.length) lines.push(`- Queued ideas: ${s.queue.map((n) => `"${n}"`).join('; ')}`);
  const recent = s.recent.slice(-LISTED).reverse();
  if (recent.length) {
    lines.push('', `| exp | status | ${metric} | description |`, '|---:|---|---:|---|');
    for (const r of recent) lines.push(row(r));
  }
  return lines.join('\n');
}

function row(r: ExperimentRecord): string {
  const value = r.metric === undefined ? '-' : r.metric.toFixed(6);
  return `| ${r.n} | ${r.status} | ${value} | ${r.description.replace(/\|/g, '\\|')} |`;
}
