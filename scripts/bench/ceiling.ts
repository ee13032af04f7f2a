// Part "ceiling": how many experiments a minute one run can carry at most, whatever the GPUs: every slot
// of the widest scaling row, pipelined, with a training and a proposer that take no time, so what is left
// is the orchestration (the workflow, git, the records, starting processes). A fleet needs the ceiling
// well above slots / budget: 64 GPUs at a 5-minute budget finish about 13 experiments a minute.
import type { Bench } from './context';
import { withFleet } from './fleet';
import { stepCounts } from './history';
import { figure, line, section } from './report';
import { simulatedRun } from './runs';
import { afterBaseline, windowSeconds } from './spans';

/** 64 GPUs, one training each every 5 minutes. */
const FLEET_NEED_PER_MINUTE = 64 / 5;

export async function benchCeiling(bench: Bench, experiments: number): Promise<void> {
  const slots = Math.max(...bench.settings.slots);
  section(
    `single-run ceiling: ${experiments} experiments on ${slots} slots, pipelined, training and proposer taking no time`,
  );
  // A budget of a hundredth of a second: train.py sleeps that long; the proposer does not sleep at all.
  const instant: Bench = { ...bench, settings: { ...bench.settings, budget: 0.01, proposerShare: 0 } };
  const started = Date.now();
  const result = await withFleet(instant, `ceiling${slots}`, slots, (queues) =>
    simulatedRun(instant, queues, `ceiling${slots}`, { parallel: slots, pipeline: true, experiments }),
  );
  const wall = (Date.now() - started) / 1000;
  const measured = afterBaseline(result);
  const window = windowSeconds(measured);
  // Experiments, not trainings: a keep's confirmation re-runs train too.
  const done = result.run.records.filter((r) => r.n > 0).length;
  const perMinute = (done / window) * 60;
  const counts = stepCounts(result.run.steps);
  line(
    `${done} experiments (${measured.length} trainings) in ${window.toFixed(1)} s (first training's start to last one's end; ` +
      `${wall.toFixed(1)} s with the workers' start and the baseline); ${counts.rebaseCandidate ?? 0} rebases, ` +
      `${counts.proposeCandidate ?? 0} proposals`,
  );
  figure(
    'single-run ceiling',
    `${perMinute.toFixed(0)} experiments/minute`,
    `well above ${FLEET_NEED_PER_MINUTE.toFixed(1)} (64 GPUs at 5 min); >= 2x: ${(2 * FLEET_NEED_PER_MINUTE).toFixed(0)}`,
    perMinute >= 2 * FLEET_NEED_PER_MINUTE,
  );
}
