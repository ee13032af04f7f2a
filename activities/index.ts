// The activities, grouped by the task queue that runs them: control work (git, files) on the main
// queue, training on the GPU queue.
import { evaluateCandidate } from './evaluate';
import { prepareRun } from './prepare';
import { proposeCandidate } from './propose';
import { recordExperiment } from './record';
import { createTrainActivities } from './train';

export { createTrainActivities };
export type { TrainWorkerOptions } from './train';

export function createControlActivities() {
  return { prepareRun, proposeCandidate, evaluateCandidate, recordExperiment };
}

export type ControlActivities = ReturnType<typeof createControlActivities>;
export type TrainActivities = ReturnType<typeof createTrainActivities>;
