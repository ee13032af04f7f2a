// Part "duty": the share of a slot's time spent training, one step after the other against pipelined
// (the next proposal made while the slot trains), with a proposer that takes a fifth of the budget.
import Table from 'cli-table3';
import { withWorkers, type Bench } from './context';
import { experimentOf, gapBreakdown } from './history';
import { block, figure, line, percent, section, seconds } from './report';
import { eventsPerExperiment, simulatedRun, type FinishedRun, type SimulatedRun } from './runs';
import type { Span } from './simulated';
import { afterBaseline, dutyCycle, mean, slotGaps, trainingSeconds, windowSeconds } from './spans';

export async function benchDutyCycle(bench: Bench): Promise<SimulatedRun> {
  const { budget, proposerShare, experiments } = bench.settings;
  const latency = proposerShare * budget;
  section(
    `duty cycle (share of slot time spent training): 1 slot, ${experiments} experiments after the baseline, ` +
      `${budget} s training, proposer ${latency.toFixed(1)} s (${percent(proposerShare)} of the budget)`,
  );
  const [sequential, pipelined] = await withWorkers(bench, 'duty', 1, async (queues) => [
    await simulatedRun(bench, queues, 'seq', { parallel: 1, pipeline: false, experiments }),
    await simulatedRun(bench, queues, 'pipe', { parallel: 1, pipeline: true, experiments }),
  ]);

  const table = new Table({ head: ['', 'sequential', 'pipelined'], style: { head: [], border: [] } });
  const both = [sequential, pipelined].map((r) => ({ ...r, measured: afterBaseline(r) }));
  const row = (label: string, f: (r: (typeof both)[number]) => string) => table.push([label, ...both.map(f)]);
  row('trainings', (r) => String(r.measured.length));
  row('window', (r) => seconds(windowSeconds(r.measured), 1));
  row('training', (r) => seconds(trainingSeconds(r.measured), 1));
  row('mean gap between trainings', (r) => seconds(mean(slotGaps(r.measured))));
  row('duty cycle', (r) => percent(dutyCycle(r.measured, 1)));
  row('kept / discarded', (r) => `${r.run.summary.counts.keep} / ${r.run.summary.counts.discard}`);
  row('history events per experiment', (r) => eventsPerExperiment(r.run).toFixed(1));
  block(table);
  line("window: from the first experiment's training start to the last training's end, as train.py saw them");
  line('(the baseline and its noise runs, which run alone before anything can be decided, are left out)');

  const seq = dutyCycle(both[0]!.measured, 1);
  const pipe = dutyCycle(both[1]!.measured, 1);
  line(
    `duty cycle sequential: ${percent(seq)} (no target; B / (B + L) = ${percent(budget / (budget + latency))} at best)`,
  );
  figure('duty cycle pipelined', percent(pipe), '>= 99%', pipe >= 0.99);
  const proposals = both[0]!.run.steps.filter((s) => s.type === 'proposeCandidate');
  line(
    `propose step, sequential: mean ${seconds(mean(proposals.map((s) => s.closed - s.started)))} for a proposer ` +
      `that sleeps ${seconds(latency)} (the rest: worktree, prompt, validation, commit)`,
  );
  for (const [name, r] of [
    ['sequential', both[0]!],
    ['pipelined', both[1]!],
  ] as const) {
    const { gaps, parts } = gapBreakdown(r.measured, r.run.steps);
    line(`between two trainings, ${name} (mean of ${gaps} gaps, ${seconds(mean(slotGaps(r.measured)))}):`);
    for (const [label, s] of parts) line(`  ${seconds(s, 3)}  ${label}`);
  }
  // The next proposal was made on the best before this decision: after a keep it is rebased first.
  const after = (status: string) => gapsAfter(both[1]!.measured, both[1]!.run, status);
  const rebases = both[1]!.run.steps.filter((s) => s.type === 'rebaseCandidate');
  line(
    `pipelined: mean gap after a keep ${seconds(mean(after('keep')))} (${after('keep').length}), ` +
      `after a discard ${seconds(mean(after('discard')))} (${after('discard').length}); ` +
      `rebase step mean ${seconds(mean(rebases.map((s) => s.closed - s.started)))} (${rebases.length})`,
  );
  return pipelined;
}

/** The gaps (seconds) after the trainings of experiments that ended with `status`, for a one-slot run. */
function gapsAfter(spans: Span[], run: FinishedRun, status: string): number[] {
  const gaps: number[] = [];
  for (let i = 1; i < spans.length; i++) {
    const n = experimentOf(spans[i - 1]!, run.steps);
    if (run.records.find((r) => r.n === n)?.status === status) gaps.push(spans[i]!.start - spans[i - 1]!.end);
  }
  return gaps;
}
