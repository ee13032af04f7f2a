// What a person reads: the results table and the status of a run, as text made for both people and grep.
import Table from 'cli-table3';
import type {
  ActiveExperiment,
  ExperimentRecord,
  ProposalCost,
  RunStatus,
  RunSummary,
} from '../common/types';
import { identicalRuns, keepRuleInForce, runsMeasured, runsWord } from '../workflows/keepRule';

function fmtMetric(value: number | undefined): string {
  return value === undefined ? '-' : value.toFixed(6);
}

export function resultsTable(records: ExperimentRecord[], metricName = 'metric'): string {
  // The cost column only when a proposer charged something.
  const priced = records.some((r) => r.cost !== undefined);
  const table = new Table({
    head: [
      'exp',
      'commit',
      metricName,
      'mem GB',
      'status',
      'train s',
      ...(priced ? ['$'] : []),
      'description',
    ],
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
    colAligns: [
      'right',
      'left',
      'right',
      'right',
      'left',
      'right',
      ...(priced ? (['right'] as const) : []),
      'left',
    ],
  });
  for (const r of records) {
    table.push([
      r.n,
      r.commit.slice(0, 7),
      fmtMetric(r.metric),
      r.memoryGb === undefined ? '-' : r.memoryGb.toFixed(1),
      r.status,
      r.trainSeconds.toFixed(1),
      ...(priced ? [r.cost ? r.cost.dollars.toFixed(4) : '-'] : []),
      (r.status === 'keep' || r.status === 'discard'
        ? r.description
        : `${r.description} (${r.reason ?? r.status})`) + seedsText(r),
    ]);
  }
  return table.toString();
}

export function statusText(status: RunStatus): string {
  const lines: string[] = [];
  const best = status.best
    ? `${status.metricName ?? 'metric'} ${status.best.metric.toFixed(6)} (experiment ${status.best.n}, ${status.best.commit.slice(0, 7)})`
    : 'none yet';
  const limit = status.maxExperiments === null ? 'until stopped' : `of ${status.maxExperiments + 1}`;
  lines.push(
    `run ${status.tag}: ${status.phase}${status.paused ? ' (paused)' : ''}${status.stopRequested ? ' (stopping)' : ''}`,
  );
  if (status.currentExperiment !== null)
    lines.push(
      `now: experiment ${status.currentExperiment}${status.currentDescription ? `: ${status.currentDescription}` : ''}`,
    );
  const others = alsoInFlight(status);
  if (others) lines.push(others);
  lines.push(`experiments: ${status.experimentsDone} done ${limit}; ${countsText(status.counts)}`);
  lines.push(`best: ${best}`);
  const noise = noiseText(status);
  if (noise) lines.push(noise);
  lines.push(`keep rule: ${keepRuleInForce(status.keepRule, status.noise, status.noiseBy)}`);
  if (status.pausedReason) lines.push(`paused because: ${status.pausedReason}`);
  if (status.spend.dollars > 0 || status.spend.inputTokens > 0)
    lines.push(`proposer spend: ${spendText(status.spend)}`);
  if (status.branch) lines.push(`branch: ${status.branch}`);
  if (status.notes.length) lines.push(`notes: ${status.notes.map((n) => JSON.stringify(n)).join(', ')}`);
  if (status.queue.length)
    lines.push(`queued ideas: ${status.queue.map((n) => JSON.stringify(n)).join(', ')}`);
  if (status.deadline) lines.push(`deadline: ${status.deadline}`);
  return lines.join('\n');
}

/** An experiment trained with several seeds (or repeated): its metric is their mean. */
export function seedsText(r: ExperimentRecord): string {
  return r.runs && r.runs.metrics.length > 1
    ? ` [mean of ${r.runs.metrics.length} ${runsWord(r.runs.by)}]`
    : '';
}

/** The run's noise estimate, and what it pools: "noise: ±0.0100 (pooled over 6 runs of experiments 0, 4)". */
export function noiseText(status: RunStatus): string | null {
  const noise = status.noise;
  if (!noise) return null;
  // A worker still running the code from before the keep rules reports the baseline's runs alone.
  if (!Array.isArray(noise.groups)) return `noise: ±${noise.std.toFixed(6)} (std of the baseline's runs)`;
  const runs = runsMeasured(noise);
  const from = noise.groups.map((g) => g.n).join(', ');
  const latest = noise.groups.at(-1)!;
  // Identical runs: a deterministic target, whose noise is 0 (the strict rule is then right).
  if (identicalRuns(noise))
    return `noise: 0 (${runs} identical runs of experiment${noise.groups.length > 1 ? 's' : ''} ${from}): a deterministic target`;
  return (
    `noise: ±${noise.std.toFixed(6)} (std pooled over ${runs} runs of experiment${noise.groups.length > 1 ? 's' : ''} ${from}; ` +
    `latest, experiment ${latest.n}: ${latest.metrics.map((m) => m.toFixed(6)).join(', ')})`
  );
}

export function spendText(spend: ProposalCost): string {
  const tokens = spend.inputTokens + spend.cacheCreationTokens + spend.cacheReadTokens;
  return `$${spend.dollars.toFixed(4)} (${tokens} input tokens, ${spend.cacheReadTokens} from cache; ${spend.outputTokens} output)`;
}

function countsText(counts: RunStatus['counts']): string {
  return Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
}

export function summaryText(summary: RunSummary): string {
  const best = summary.best;
  const gain =
    best && summary.baselineMetric !== null
      ? ` (baseline ${summary.baselineMetric.toFixed(6)}, ${(best.metric - summary.baselineMetric).toFixed(6)})`
      : '';
  return [
    `run ${summary.tag} ended (${summary.reason}): ${summary.experimentsDone} experiments; ${countsText(summary.counts)}`,
    `best: ${best ? `${best.metric.toFixed(6)} at experiment ${best.n} (${best.commit.slice(0, 7)})${gain}` : 'none'}`,
    summary.spend.dollars > 0 ? `proposer spend: ${spendText(summary.spend)}` : '',
    summary.branch ? `branch: ${summary.branch}` : '',
    summary.resultsPath ? `results: ${summary.resultsPath}` : '',
  ]
    .filter(Boolean)
    .join('\n');
}

/** The experiments in flight besides the one the run's phase is about, or null: "also in flight: 7 ready (raise LR)". */
export function alsoInFlight(status: RunStatus): string | null {
  const others = (status.inFlight ?? []).filter((a) => a.n !== status.currentExperiment);
  return others.length ? `also in flight: ${others.map(inFlightText).join('; ')}` : null;
}

function inFlightText(a: ActiveExperiment): string {
  return `${a.n} ${a.phase}${a.description ? ` (${a.description})` : ''}`;
}
