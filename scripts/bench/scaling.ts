// Part "scaling": experiments per hour with 1, 2, 4 and 8 slots (pipelined, one experiment in flight per
// slot, about three rounds each), and how close each comes to slots × the one-slot rate.
import Table from 'cli-table3';
import type { Bench } from './context';
import { slotsPerProcess, withFleet } from './fleet';
import { gapBreakdown, stepCounts } from './history';
import { block, figure, line, percent, section, seconds } from './report';
import { simulatedRun, type SimulatedRun } from './runs';
import { afterBaseline, dutyCycle, mean, perHour, slotGaps, windowSeconds } from './spans';

interface Row {
  slots: number;
  run: SimulatedRun;
  /** The trainings measured: every one after the baseline, or a one-slot run's first `rounds`. */
  measured: SimulatedRun['spans'];
  note?: string;
}

/**
 * `oneSlot`: the pipelined duty-cycle run, when there was one (the same configuration as one slot here):
 * its first `rounds` experiments stand for the one-slot row instead of a run of its own.
 */
export async function benchScaling(bench: Bench, oneSlot?: SimulatedRun): Promise<void> {
  const { budget, proposerShare, rounds, slots: counts } = bench.settings;
  section(
    `throughput: pipelined, one experiment in flight per slot, ${rounds} round${rounds === 1 ? '' : 's'} (${rounds} × slots experiments ` +
      `after the baseline), ${budget} s training, proposer ${(proposerShare * budget).toFixed(1)} s`,
  );
  const rows: Row[] = [];
  for (const slots of counts) {
    if (slots === 1 && oneSlot && afterBaseline(oneSlot).length >= rounds) {
      const measured = afterBaseline(oneSlot).slice(0, rounds);
      rows.push({ slots, run: oneSlot, measured, note: `the pipelined duty-cycle run's first ${rounds}` });
      continue;
    }
    const run = await withFleet(bench, `p${slots}`, slots, (queues) =>
      simulatedRun(bench, queues, `p${slots}`, {
        parallel: slots,
        pipeline: true,
        experiments: rounds * slots,
      }),
    );
    rows.push({ slots, run, measured: afterBaseline(run) });
  }

  const base = rows.find((r) => r.slots === 1);
  const rate1 = base ? perHour(base.measured) : NaN;
  const efficiency = (r: Row) => perHour(r.measured) / (r.slots * rate1);
  const table = new Table({
    head: [
      'slots',
      'workers',
      'trainings',
      'window',
      'exp/hour',
      'efficiency',
      'duty cycle',
      'slot gap',
      'rebases',
      'proposals',
    ],
    style: { head: [], border: [] },
  });
  for (const r of rows) {
    const counts = stepCounts(r.run.run.steps);
    table.push([
      r.note ? `${r.slots} *` : String(r.slots),
      workers(r.slots, bench.settings.slotsPerWorker),
      String(r.measured.length),
      seconds(windowSeconds(r.measured), 1),
      perHour(r.measured).toFixed(0),
      base ? percent(efficiency(r)) : 'n/a',
      percent(dutyCycle(r.measured, r.slots)),
      seconds(mean(slotGaps(r.measured))),
      String(counts.rebaseCandidate ?? 0),
      String(counts.proposeCandidate ?? 0),
    ]);
  }
  block(table);
  line("exp/hour: trainings over the window (first experiment's training start to last training end, as");
  line(
    'train.py saw them; the baseline and its noise runs run alone and are left out); efficiency = rate(P) / (P × rate(1));',
  );
  line(
    'slot gap: mean idle time between two trainings in one slot; rebases and proposals: steps in the history',
  );
  line('workers: "1 process" is the bench itself (control and training); "k + control" is k training worker');
  line("processes (autoresearch worker --train-only --slots N) and the bench's own control worker");
  for (const r of rows)
    if (r.note)
      line(
        `* ${r.slots} slot: ${r.note} experiments (the same configuration; rebases and proposals: its whole run)`,
      );
  const top = rows[rows.length - 1];
  if (top && top.slots > 1) explain(top);
  if (top && base && top.slots > 1)
    figure(
      `scaling efficiency at ${top.slots} slots`,
      percent(efficiency(top)),
      '>= 90%',
      efficiency(top) >= 0.9,
    );
  else line('scaling efficiency: needs a 1-slot row and a larger one (--slots 1,2,4,8)');
}

/** How a row's slots were served. */
function workers(slots: number, perWorker: number): string {
  if (slots <= perWorker) return '1 process';
  const sizes = slotsPerProcess(slots, perWorker);
  return `${sizes.length} + control`;
}

/** Where the time of the widest run goes: trainings of a round that do not start (or end) together, and the slots' gaps. */
function explain(row: Row): void {
  const { slots, measured } = row;
  const spread = (xs: number[]) => Math.max(...xs) - Math.min(...xs);
  const first = measured.slice(0, slots);
  const last = measured.slice(-slots);
  line(
    `${slots} slots: the first round's trainings started over ${seconds(spread(first.map((s) => s.start)))}, ` +
      `the last round's ended over ${seconds(spread(last.map((s) => s.end)))}`,
  );
  const { gaps, parts } = gapBreakdown(measured, row.run.run.steps);
  line(
    `between two trainings in one slot, ${slots} slots (mean of ${gaps} gaps, ${seconds(mean(slotGaps(measured)))}):`,
  );
  for (const [label, s] of parts) line(`  ${seconds(s, 3)}  ${label}`);
}
