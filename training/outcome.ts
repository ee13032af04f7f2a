// A training's outcome as the run records it, read from its log the way autoresearch's program reads
// it with grep: the exit, the summary block, the metric's text, the log's tail. The evaluation, when the
// target has one, supplies the metric; the training's summary keeps the rest.
import type { TargetConfig, TrainingOutcome } from '../common/types';
import { extractMetricText, logTail, parseSummary } from './metrics';
import { readTail, type SupervisedResult } from './runSupervised';

/** The summary block sits at the end of the log; this much of the tail is read to find it. */
const SUMMARY_TAIL_BYTES = 64 * 1024;

/** The metric comes from the evaluation's log only; the training's summary keeps the rest (memory ...). */
export function withEvaluation(
  training: TrainingOutcome,
  result: SupervisedResult,
  evalLog: string,
  config: TargetConfig,
): TrainingOutcome {
  const tail = readTail(evalLog, SUMMARY_TAIL_BYTES);
  const lastLine = logTail(tail).split('\n').slice(-1)[0] ?? '';
  const evalFailed = result.timedOut
    ? `killed after the ${config.eval!.timeoutSeconds}s evaluation timeout`
    : result.exitCode !== 0
      ? `exit ${result.exitCode ?? result.signal}${lastLine ? `: ${lastLine}` : ''}`
      : undefined;
  return {
    ...training,
    summary: { ...training.summary, ...parseSummary(tail) },
    metricText: extractMetricText(tail, config.metric.name, config.metric.pattern),
    evalLogPath: evalLog,
    ...(evalFailed ? { evalFailed, logTail: logTail(tail) } : {}),
    ...(result.limitReached ? { limitReached: result.limitReached } : {}),
  };
}

/** What a finished (or failed, or killed) command left: its exit and what its log says. */
export function toOutcome(
  result: SupervisedResult,
  logPath: string,
  config: TargetConfig,
  slot: string,
  frozenModified: string[],
): TrainingOutcome {
  const tail = readTail(logPath, SUMMARY_TAIL_BYTES);
  return {
    exitCode: result.exitCode,
    signal: result.signal,
    timedOut: result.timedOut,
    summary: parseSummary(tail),
    metricText: extractMetricText(tail, config.metric.name, config.metric.pattern),
    logPath,
    logTail: logTail(tail),
    trainSeconds: Math.round(result.seconds * 10) / 10,
    slot,
    frozenModified,
    ...(result.limitReached ? { limitReached: result.limitReached } : {}),
  };
}
