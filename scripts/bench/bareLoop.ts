// The loop without Temporal: the same activity functions, called one after the other in this process,
// doing the same git and process work as a sequential run (prepare, then propose, train, evaluate and
// record each experiment), and deciding with the same rule. What a Temporal run costs on top is the
// orchestration overhead.
import { evaluateCandidate } from '../../activities/evaluate';
import { prepareRun } from '../../activities/prepare';
import { proposeCandidate } from '../../activities/propose';
import { recordExperiment } from '../../activities/record';
import { createTrainActivities } from '../../activities/train';
import type {
  BestResult,
  Candidate,
  Evaluation,
  ExperimentRecord,
  PreparedRun,
  TrainingOutcome,
} from '../../common/types';
import { decideStatus } from '../../workflows/keepRule';
import { experimentRecord } from '../../workflows/projections';
import { mockActivityContext } from './context';

export interface BareRun {
  records: ExperimentRecord[];
  /** Seconds each call of each step took. */
  stepSeconds: Record<string, number[]>;
}

export async function bareLoop(repo: string, tag: string, experiments: number): Promise<BareRun> {
  const stepSeconds: Record<string, number[]> = {};
  async function timed<T>(step: string, call: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await call();
    } finally {
      (stepSeconds[step] ??= []).push((performance.now() - t0) / 1000);
    }
  }
  const context = () => mockActivityContext(tag, 'bare-loop');
  const prepared: PreparedRun = await timed('prepareRun', () => context().run(prepareRun, { repo, tag }));
  const { config, frozenBlobs, runDir, branch } = prepared;
  const { trainCandidate } = createTrainActivities({ slot: 'gpu0' });
  const chart = {
    metricName: config.metric.name,
    direction: config.metric.direction,
    title: `autoresearch ${tag}`,
  };

  let best: BestResult | null = null;
  const records: ExperimentRecord[] = [];
  for (let n = 0; n <= experiments; n++) {
    const startedAt = Date.now();
    const parent = best?.commit ?? prepared.baseCommit;
    const candidate: Candidate =
      n === 0
        ? { n, parent, commit: parent, description: 'baseline' }
        : await timed('proposeCandidate', () =>
            proposeCandidate({
              repo,
              tag,
              n,
              parent,
              proposer: 'mutate',
              seed: 0,
              config,
              notes: [],
              runDir,
            }),
          );
    let evaluation: Evaluation;
    let outcome: TrainingOutcome | undefined;
    if (candidate.invalid) evaluation = { status: 'invalid', reason: candidate.invalid };
    else {
      const trained: TrainingOutcome = await timed('trainCandidate', () =>
        context().run(trainCandidate, { repo, tag, n, commit: candidate.commit, config }),
      );
      outcome = trained;
      evaluation = await timed('evaluateCandidate', () =>
        evaluateCandidate({ repo, commit: candidate.commit, config, frozenBlobs, outcome: trained }),
      );
    }
    const status = decideStatus(evaluation, best, config.metric.direction);
    const record = experimentRecord(candidate, evaluation, { status }, outcome, startedAt, Date.now());
    await timed('recordExperiment', () =>
      recordExperiment({ repo, runDir, branch, record, previousBest: parent, chart }),
    );
    if (status === 'keep') best = { n, commit: candidate.commit, metric: evaluation.metric! };
    records.push(record);
  }
  return { records, stepSeconds };
}
