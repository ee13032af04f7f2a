// Part "overhead": what Temporal adds per experiment, against the bare loop doing the same git and
// process work in a plain for-loop. Both run an instant trainer and the offline mutate proposer, one
// step after the other, so what is left of an experiment's time is orchestration.
import Table from 'cli-table3';
import { withWorkers, type Bench } from './context';
import { bareLoop } from './bareLoop';
import { block, figure, line, section, seconds } from './report';
import { benchTag, eventsPerExperiment, runToEnd } from './runs';
import { simulatedTarget } from './simulated';
import { mean } from './spans';
import type { ExperimentRecord } from '../../common/types';

/**
 * Seconds per experiment, from the baseline's decision to the last experiment's decision: that many full
 * cycles of record, propose, train and evaluate (preparing the run and the last record left out), less the
 * training process's own time (as the worker measured it).
 */
function perExperiment(records: ExperimentRecord[]): { cycle: number; trainer: number; overhead: number } {
  const cycles = records.length - 1;
  const cycle = (records[cycles]!.finishedAt - records[0]!.finishedAt) / 1000 / cycles;
  const trainer = mean(records.slice(1).map((r) => r.trainSeconds));
  return { cycle, trainer, overhead: cycle - trainer };
}

const STEPS = ['proposeCandidate', 'trainCandidate', 'evaluateCandidate', 'recordExperiment'];

export async function benchOverhead(bench: Bench): Promise<void> {
  const experiments = bench.settings.overheadExperiments;
  section(
    `orchestration overhead: ${experiments} experiments after the baseline, one step after the other, ` +
      'instant trainer, mutate proposer',
  );
  const run = await withWorkers(bench, 'overhead', 1, async (queues) =>
    runToEnd(bench.client, {
      repo: (await simulatedTarget()).repo,
      tag: benchTag('overhead'),
      proposer: 'mutate',
      maxExperiments: experiments,
      parallel: 1,
      pipeline: false,
      ...queues,
    }),
  );
  const bare = await bareLoop((await simulatedTarget()).repo, benchTag('bare'), experiments);

  const temporal = perExperiment(run.records);
  const plain = perExperiment(bare.records);
  const table = new Table({
    head: ['per experiment', 'Temporal', 'bare loop'],
    style: { head: [], border: [] },
  });
  table.push(['whole cycle', seconds(temporal.cycle, 3), seconds(plain.cycle, 3)]);
  table.push(['  of which the training process', seconds(temporal.trainer, 3), seconds(plain.trainer, 3)]);
  table.push(['  overhead (the rest)', seconds(temporal.overhead, 3), seconds(plain.overhead, 3)]);
  for (const step of STEPS) {
    const inRun = run.steps.filter((s) => s.type === step && s.started > 0);
    const queued = mean(inRun.map((s) => s.started - s.scheduled));
    const ran = mean(inRun.map((s) => s.closed - s.started));
    table.push([
      `  ${step} (Temporal: run + queue wait)`,
      `${seconds(ran, 3)} + ${seconds(queued, 3)}`,
      seconds(mean(bare.stepSeconds[step] ?? []), 3),
    ]);
  }
  block(table);
  line(
    "cycle: from the baseline's decision to the last experiment's, per experiment; training process: as the",
  );
  line(
    'worker timed it (0.1 s resolution); steps: mean per call (Temporal: started to closed, and scheduled to started)',
  );
  const ratio = temporal.overhead / plain.overhead;
  figure(
    'orchestration overhead per experiment',
    seconds(temporal.overhead, 3),
    '< 1 s',
    temporal.overhead < 1,
  );
  figure('overhead against the bare loop', `${ratio.toFixed(2)}x`, '<= 1.5x', ratio <= 1.5);
  line(
    `history events per experiment: ${eventsPerExperiment(run).toFixed(1)} ` +
      `(${run.eventsPerExecution.join(' + ')} events over ${run.eventsPerExecution.length} execution(s), ` +
      `${run.summary.experimentsDone} experiments with the baseline)`,
  );
}
