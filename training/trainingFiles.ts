// The files one training leaves in the run directory: its log, its evaluation's log, and the markers
// signed by the worker (store/signedMarker.ts): `exited`, which the supervisor writes when the training
// exits 0 on its own, `trained` the moment the worker sees the training end, `result` once its evaluation
// is done too. A retry reads them back instead of training again (docs/ARCHITECTURE.md, invariant 1).
import type { TrainingOutcome } from '../common/types';
import { experimentLogPath } from '../store/runDirectory';
import { readSignedMarker, type MarkerFields } from '../store/signedMarker';

/** Which training: the experiment, its commit, and which seed or repeat of it. */
export interface TrainingOf {
  tag: string;
  n: number;
  commit: string;
  seed?: number;
  repeat?: number;
}

export interface TrainingFiles {
  log: string;
  evalLog: string;
  /** The supervisor's note that the training exited 0 on its own (training/runTraining.ts, endedOnItsOwn). */
  exited: string;
  /** The outcome saved the moment the training ended (a retry resumes from it, in the same slot). */
  trained: string;
  /** The outcome saved once training and evaluation are done (a retry returns it). */
  result: string;
  /** What a saved outcome must say it is for: this very training (experiment, seed or repeat, commit, run). */
  about(purpose: 'exited' | 'trained' | 'result'): MarkerFields;
}

/**
 * The files of `training` in `runDir`. `runId` is the workflow execution's: saved outcomes are this run's
 * only, since a reused tag's old run directory (a training clone's, say) holds outcomes of the same
 * baseline commit, which would otherwise come back as "trained".
 */
export function trainingFiles(runDir: string, training: TrainingOf, runId: string): TrainingFiles {
  // Another seed or a repeat of the same experiment (the baseline's noise runs, a confirmation) keeps
  // logs and results of its own.
  const log = experimentLogPath(runDir, training.n).replace(
    /\.log$/,
    training.seed !== undefined
      ? `.seed${training.seed}.log`
      : training.repeat !== undefined
        ? `.repeat${repeatNumber(training.repeat)}.log`
        : '.log',
  );
  const beside = (suffix: string) => log.replace(/\.log$/, suffix);
  return {
    log,
    evalLog: beside('.eval.log'),
    exited: beside('.exited.json'),
    trained: beside('.trained.json'),
    result: beside('.result.json'),
    about: (purpose) => ({
      purpose,
      commit: training.commit,
      runId,
      tag: training.tag,
      n: training.n,
      seed: training.seed,
      repeat: training.repeat,
    }),
  };
}

/**
 * The outcome this worker saved for exactly this training (`about`: commit, run id, experiment, seed or
 * repeat), if any. A training never outlives the workflow execution that started it (continuing as new
 * waits for the experiments in flight), so its retries share its run id. Anything else reads as absent
 * and the candidate trains again: a file a candidate forged, another experiment's, a tampered one, and
 * one written before markers were signed (an upgrade mid-training costs that training once more, which
 * is the safe side: a retraining costs time, a forged outcome would cost the record).
 */
export function readFinished(file: string, about: MarkerFields): TrainingOutcome | null {
  return readSignedMarker<TrainingOutcome>(file, about);
}

/** A repeat's number, checked: it names the repeat's log file. */
function repeatNumber(repeat: number): number {
  if (!Number.isInteger(repeat) || repeat < 1)
    throw new Error(`a repeat must be a whole number >= 1; got ${repeat}`);
  return repeat;
}
