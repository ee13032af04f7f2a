// Step 3 of an experiment: score the training, or refuse to. Protects invariant 3 (docs/ARCHITECTURE.md):
// a candidate whose frozen files (data, evaluation) differ from the baseline's, in its commit or in what
// the training left in its worktree, is not scored; neither is a crash, a timeout, or a metric that is not
// a number.
import type { Evaluation, TargetConfig, TrainingOutcome } from '../common/types';
import { Repo } from '../store/git';
import { setupTimeoutSeconds } from '../common/trainBound';

export interface EvaluateInput {
  repo: string;
  commit: string;
  config: TargetConfig;
  frozenBlobs: Record<string, string>;
  outcome: TrainingOutcome;
}

export async function evaluateCandidate(input: EvaluateInput): Promise<Evaluation> {
  const repo = await Repo.open(input.repo);
  return verdict(await frozenChangedIn(repo, input.commit, input.frozenBlobs), input.outcome, input.config);
}

/** The frozen files whose blob in `commit` differs from the baseline's (`frozenBlobs`). */
export async function frozenChangedIn(
  repo: Repo,
  commit: string,
  frozenBlobs: Record<string, string>,
): Promise<string[]> {
  const changed: string[] = [];
  for (const [file, blob] of Object.entries(frozenBlobs))
    if ((await repo.blobSha(commit, file)) !== blob) changed.push(file);
  return changed;
}

/**
 * The verdict on a training, given the frozen files its commit changed: the evaluate step's, and the
 * training worker's own for a run that hands it the baseline's frozen blobs (activities/train.ts).
 */
export function verdict(changed: string[], outcome: TrainingOutcome, config: TargetConfig): Evaluation {
  if (changed.length > 0)
    return { status: 'invalid', reason: `frozen file changed in the candidate: ${changed.join(', ')}` };
  if (outcome.frozenModified.length > 0)
    return {
      status: 'invalid',
      reason: `training modified frozen file(s): ${outcome.frozenModified.join(', ')}`,
    };
  return scoreOutcome(outcome, config);
}

/** The verdict on a training's outcome alone (pure, so it is tested without git). */
export function scoreOutcome(outcome: TrainingOutcome, config: TargetConfig): Evaluation {
  const lastLine = outcome.logTail.split('\n').slice(-1)[0] ?? '';
  if (outcome.setupFailed && outcome.timedOut)
    return {
      status: 'crash',
      reason:
        `the set-up (${config.train.setup.join(' && ')}) did not finish within its ${setupTimeoutSeconds(config)}s ` +
        'timeout and was killed: a slow set-up (a first download, say), not a broken target; give it longer with ' +
        `[train] setup_timeout_seconds in autoresearch.toml (log: ${outcome.logPath})`,
    };
  if (outcome.setupFailed)
    return { status: 'crash', reason: `set-up failed (exit ${outcome.exitCode}): ${lastLine}` };
  if (outcome.timedOut)
    return {
      status: 'timeout',
      // A limit it hit first (a fork bomb stopped at max_processes) is what the agent must hear about: the
      // log's last line, written by the worker after the training's output, names it.
      reason:
        `killed after the ${config.train.timeoutSeconds}s hard timeout` +
        (outcome.limitReached
          ? `; the sandbox's ${outcome.limitReached} limit was reached first: ${lastLine}`
          : ''),
    };
  if (outcome.exitCode !== 0)
    return {
      status: 'crash',
      reason: `exit ${outcome.exitCode ?? outcome.signal}${lastLine ? `: ${lastLine}` : ''}`,
    };
  if (outcome.evalFailed) return { status: 'crash', reason: `evaluation failed: ${outcome.evalFailed}` };
  if (outcome.metricText === null)
    return {
      status: 'crash',
      reason: `no "${config.metric.name}:" line in the ${config.eval ? 'evaluation' : 'training'} output`,
    };
  const metric = Number(outcome.metricText);
  if (!Number.isFinite(metric))
    return {
      status: 'invalid',
      reason: `${config.metric.name} is ${outcome.metricText}, not a finite number`,
    };
  const memoryMb = config.metric.memoryKey ? Number(outcome.summary[config.metric.memoryKey]) : NaN;
  return { status: 'ok', metric, memoryGb: Number.isFinite(memoryMb) ? memoryMb / 1024 : undefined };
}
