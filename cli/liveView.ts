// `status --watch` and the demo: one screen about a live run, redrawn in place on a terminal
// (log-update), or printed again only when something other than the clock changed (a pipe, a CI log).
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { createLogUpdate } from 'log-update';
import type { ExperimentRecord, RunStatus } from '../common/types';
import { identicalRuns, runsMeasured, runsWord } from '../workflows/keepRule';
import { alsoInFlight, seedsText } from './render';
import { followRun } from './watch';

/** What the training activity's last heartbeat said (see activities/train.ts). */
export interface TrainingBeat {
  phase?: string;
  lastLine?: string;
}

const BAR_WIDTH = 30;
const RECENT = 5;

export function progressBar(fraction: number, width = BAR_WIDTH): string {
  const filled = Math.round(Math.min(Math.max(fraction, 0), 1) * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]`;
}

function fmt(value: number | undefined | null): string {
  return value === undefined || value === null ? '-' : value.toFixed(6);
}

/** The screen, as text: pure, so tests can read it. `now` is the wall clock in ms. */
export function liveViewText(status: RunStatus, now: number, beat?: TrainingBeat): string {
  const s = status;
  const metric = s.metricName ?? 'metric';
  const c = s.counts;
  const crashed = c.crash + c.timeout + c.invalid;
  const state = s.stopRequested && !['stopped', 'finished'].includes(s.phase) ? 'stopping' : s.phase;
  const of = s.maxExperiments === null ? '' : ` of ${s.maxExperiments + 1}`;
  const lines = [
    `run ${s.tag} on ${s.target}: ${state}, ${s.experimentsDone}${of} experiments ` +
      `(${c.keep} kept, ${c.discard} discarded, ${crashed} crashed${c.cancelled ? `, ${c.cancelled} cancelled` : ''})`,
  ];
  if (s.best) {
    const gain =
      s.baselineMetric !== null && s.baselineMetric !== 0 && s.best.n !== 0
        ? ` (${(((s.best.metric - s.baselineMetric) / Math.abs(s.baselineMetric)) * 100).toFixed(2)}% vs baseline ${fmt(s.baselineMetric)})`
        : '';
    const runs = s.best.runs ? `, mean of ${s.best.runs} ${runsWord(s.noiseBy)}` : '';
    lines.push(`best ${metric} ${fmt(s.best.metric)} at experiment ${s.best.n}${runs}${gain}`);
  } else lines.push(`best ${metric}: none yet`);
  if (s.noise && identicalRuns(s.noise)) {
    // Identical runs: nothing to allow for, so the strict rule is what decides, whichever was chosen.
    lines.push(
      `noise 0 (${runsMeasured(s.noise)} identical runs): deterministic target; keep rule ${s.keepRule?.rule === 'noise-aware' ? 'strict in effect' : 'strict'}`,
    );
  } else if (s.noise)
    lines.push(
      `noise ±${fmt(s.noise.std)}; keep rule ${s.keepRule?.rule ?? 'strict'}` +
        (s.keepRule?.rule === 'noise-aware'
          ? ` (gain > ${s.keepRule.margin} SE, doubtful ones confirmed)`
          : ''),
    );

  if (s.currentExperiment !== null)
    lines.push(`now: experiment ${s.currentExperiment} ${s.phase}: ${s.currentDescription ?? '...'}`);
  if (s.phase === 'training' && s.phaseStartedAt !== null) {
    // The wall clock since the phase began: heartbeats are throttled, so their own count lags.
    const elapsed = Math.max(0, (now - s.phaseStartedAt) / 1000);
    const budget = s.budgetSeconds;
    const bar = budget ? progressBar(elapsed / budget) : progressBar(0).replace(/░/g, ' ');
    const setup = beat?.phase === 'setup' ? ' (setting up the slot)' : '';
    lines.push(
      `  ${bar} ${elapsed.toFixed(0)}s${budget ? ` / ${budget}s budget` : ''}${setup}` +
        (beat?.lastLine ? `  ${beat.lastLine.slice(0, 60)}` : ''),
    );
  }
  const others = alsoInFlight(s);
  if (others) lines.push(others);
  if (s.paused)
    lines.push(`paused${s.pausedReason ? `: ${s.pausedReason}` : ''}; \`autoresearch resume\` continues`);
  if (s.deadline) lines.push(`deadline: ${s.deadline}`);
  if (s.notes.length) lines.push(`notes: ${s.notes.map((n) => JSON.stringify(n)).join(', ')}`);
  if (s.queue.length) lines.push(`queued ideas: ${s.queue.map((n) => JSON.stringify(n)).join(', ')}`);
  const recent = s.recent.slice(-RECENT);
  if (recent.length) {
    lines.push('recent:');
    for (const r of recent) lines.push(recentLine(r));
  }
  return lines.join('\n');
}

function recentLine(r: ExperimentRecord): string {
  return `  ${String(r.n).padStart(4)}  ${r.status.padEnd(9)} ${fmt(r.metric).padStart(10)}  ${r.description}${seedsText(r)}`;
}

/** The last heartbeat of the run's training activity, if one is in flight. */
export async function trainingBeat(handle: WorkflowHandle): Promise<TrainingBeat | undefined> {
  const description = await handle.describe();
  for (const activity of description.raw.pendingActivities ?? []) {
    const payload = activity.heartbeatDetails?.payloads?.[0];
    if (activity.activityType?.name === 'trainCandidate' && payload)
      return defaultPayloadConverter.fromPayload<TrainingBeat>(payload);
  }
  return undefined;
}

export interface LiveViewOptions {
  /** Redraw in place (a terminal) or print each changed screen (a pipe). Default: stdout is a TTY. */
  inPlace?: boolean;
}

/** Shows the live view until the run closes; resolves with its result. */
export async function watchLive<T>(handle: WorkflowHandle, options: LiveViewOptions = {}): Promise<T> {
  const inPlace = options.inPlace ?? Boolean(process.stdout.isTTY);
  const update = inPlace ? createLogUpdate(process.stdout) : null;
  let lastPrinted = '';
  try {
    return await followRun<T>(handle, {
      onStatus: async (status) => {
        const beat =
          status.phase === 'training' ? await trainingBeat(handle).catch(() => undefined) : undefined;
        const text = liveViewText(status, Date.now(), beat);
        if (update) return update(text);
        // Without a terminal, the clock-driven bar line would print every second: leave it out.
        const steady = liveViewText(status, status.phaseStartedAt ?? 0);
        if (steady !== lastPrinted) console.log(`${steady}\n`);
        lastPrinted = steady;
      },
    });
  } finally {
    update?.done();
  }
}
