// Part "keeps": how many keeps are real. The bundled tinylm target and the mutate proposer run the same
// number of experiments under each keep rule; then every kept change and its parent are trained again
// with seeds neither run used, and a keep whose mean over those seeds is not better than its parent's
// is a false keep. The GPU time of each rule counts every training it asked for (the baseline's noise
// runs and the confirmation runs included), not the re-runs, which only judge.
import Table from 'cli-table3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { evaluateCandidate } from '../../activities/evaluate';
import { prepareRun } from '../../activities/prepare';
import { createTrainActivities } from '../../activities/train';
import { materializeExample } from '../../target/examples';
import { ensureUv } from '../../target/pythonTools';
import type {
  ExperimentRecord,
  KeepRule,
  MetricDirection,
  PreparedRun,
  TrainingOutcome,
} from '../../common/types';
import { startWorkers, uniqueQueues } from '../../test/support/temporal';
import { gain } from '../../workflows/keepRule';
import { mockActivityContext, type Bench } from './context';
import { block, figure, line, seconds, section } from './report';
import { benchTag, runToEnd } from './runs';

/** Seeds of the re-runs: far from the run's own (the target's, then 1, 2 ...). */
const RERUN_SEED = 101;
/** Training slots: the baseline's and the confirmations' seeds train side by side, as in the demo. */
const SLOTS = 2;

interface RuleResult {
  rule: KeepRule['rule'];
  experiments: number;
  keeps: ExperimentRecord[];
  falseKeeps: ExperimentRecord[];
  trainings: number;
  gpuSeconds: number;
  wallSeconds: number;
}

export async function benchFalseKeeps(bench: Bench): Promise<void> {
  const { keepsExperiments: experiments, keepsBudget: budget, reruns } = bench.settings;
  section(
    `false keeps on tinylm with the mutate proposer: ${experiments} experiments per rule at a ${budget} s budget, ` +
      `every keep and its parent re-run with ${reruns} new seeds:`,
  );
  const extraPath = await ensureUv();
  const results: RuleResult[] = [];
  for (const rule of ['strict', 'noise-aware'] as const) {
    const repo = await materializeExample(
      'tinylm',
      path.join(mkdtempSync(path.join(tmpdir(), `ar-bench-keeps-${rule}-`)), 'tinylm'),
    );
    const queues = uniqueQueues(`bench-keeps-${rule}`);
    const workers = await startWorkers(bench.address, { ...queues, extraPath, slots: SLOTS });
    let run;
    try {
      run = await runToEnd(bench.client, {
        repo,
        tag: benchTag(`keeps-${rule}`),
        keepRule: rule,
        maxExperiments: experiments,
        budgetSeconds: budget,
        ...queues,
      });
    } finally {
      await workers.stop();
    }
    const keeps = run.records.filter((r) => r.n > 0 && r.status === 'keep');
    const { means, direction } = await rerun(
      repo,
      [...new Set(keeps.flatMap((k) => [k.commit, k.parent]))],
      budget,
      reruns,
      extraPath,
    );
    const falseKeeps = keeps.filter((k) => gain(means.get(k.commit)!, means.get(k.parent)!, direction) <= 0);
    for (const k of keeps)
      line(
        `${rule} keep ${k.n} (${k.description}): run said ${k.metric!.toFixed(4)}; re-run mean ` +
          `${means.get(k.commit)!.toFixed(4)} against its parent's ${means.get(k.parent)!.toFixed(4)}` +
          (falseKeeps.includes(k) ? ': FALSE KEEP' : ''),
      );
    results.push({
      rule,
      experiments: run.records.length - 1,
      keeps,
      falseKeeps,
      trainings: run.records.reduce(
        (a, r) => a + (r.runs?.metrics.length ?? (r.trainSeconds > 0 ? 1 : 0)),
        0,
      ),
      gpuSeconds: run.records.reduce((a, r) => a + r.trainSeconds, 0),
      wallSeconds: run.wallSeconds,
    });
  }
  const table = new Table({
    head: ['rule', 'experiments', 'keeps', 'false keeps', 'trainings', 'GPU time', 'run wall'],
    style: { head: [], border: [] },
  });
  for (const r of results)
    table.push([
      r.rule,
      r.experiments,
      r.keeps.length,
      r.falseKeeps.length,
      r.trainings,
      seconds(r.gpuSeconds, 0),
      seconds(r.wallSeconds, 0),
    ]);
  block(table);
  const [strict, aware] = results as [RuleResult, RuleResult];
  figure(
    'false keeps, noise-aware against strict',
    `${aware.falseKeeps.length} of ${aware.keeps.length} against ${strict.falseKeeps.length} of ${strict.keeps.length}`,
    'fewer',
    aware.falseKeeps.length < strict.falseKeeps.length,
  );
  line(
    `GPU time, noise-aware against strict: ${(aware.gpuSeconds / strict.gpuSeconds).toFixed(2)}x ` +
      `(${aware.gpuSeconds.toFixed(0)} s against ${strict.gpuSeconds.toFixed(0)} s)`,
  );
}

/**
 * Each commit's mean metric over `reruns` new seeds, trained and scored by the project's own activities
 * (outside Temporal, like the bench's bare loop), two at a time.
 */
async function rerun(
  repo: string,
  commits: string[],
  budget: number,
  reruns: number,
  extraPath: string[],
): Promise<{ means: Map<string, number>; direction: MetricDirection }> {
  const tag = `bench-rerun-${process.pid}-${Date.now().toString(36)}`;
  const context = () => mockActivityContext(tag, 'rerun');
  const prepared: PreparedRun = await context().run(prepareRun, { repo, tag, budgetSeconds: budget });
  const { trainCandidate } = createTrainActivities({
    slots: Array.from({ length: SLOTS }, (_, k) => ({ name: `rerun${k}` })),
    extraPath,
  });
  const jobs = commits.flatMap((commit, n) =>
    Array.from({ length: reruns }, (_, k) => ({ commit, n, seed: RERUN_SEED + k })),
  );
  const metrics = new Map<string, number[]>();
  const next = async (): Promise<void> => {
    for (let job = jobs.shift(); job; job = jobs.shift()) {
      const { commit, n, seed } = job;
      const outcome: TrainingOutcome = await context().run(trainCandidate, {
        repo,
        tag,
        n,
        commit,
        config: prepared.config,
        seed,
      });
      const evaluation = await evaluateCandidate({
        repo,
        commit,
        config: prepared.config,
        frozenBlobs: prepared.frozenBlobs,
        outcome,
      });
      if (evaluation.metric === undefined)
        throw new Error(`re-run of ${commit.slice(0, 7)} seed ${seed}: ${evaluation.reason}`);
      metrics.set(commit, [...(metrics.get(commit) ?? []), evaluation.metric]);
    }
  };
  await Promise.all(Array.from({ length: SLOTS }, next));
  return {
    means: new Map([...metrics].map(([c, m]) => [c, m.reduce((a, b) => a + b, 0) / m.length])),
    direction: prepared.config.metric.direction,
  };
}
