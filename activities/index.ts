// The activities, grouped by the task queue that runs them: control work (git, files) on the main
// queue, training on the GPU queue.
import { Context } from '@temporalio/activity';
import { NO_AGENTS, type AgentAllowlist } from '../proposers/command/allowlist';
import { evaluateCandidate } from './evaluate';
import { prepareRun } from './prepare';
import { proposeCandidate, type ProposeInput } from './propose';
import { rebaseCandidate } from './rebase';
import { recordExperiment } from './record';
import { createTrainActivities } from './train';

export { createTrainActivities };
export type { SlotSpec, TrainWorkerOptions } from './train';

/** How often a control step says it is alive (the SDK throttles what it sends to the server). */
const HEARTBEAT_EVERY_MS = 1000;

/**
 * A control step that heartbeats while it runs, so that a worker killed in the middle of it is noticed
 * within the run's heartbeat timeout and the step retried elsewhere, instead of the run waiting out the
 * step's start-to-close timeout. Every control step is idempotent, so the retry is safe.
 */
function heartbeating<A extends unknown[], R>(step: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A) => {
    const ctx = Context.current();
    ctx.heartbeat();
    const timer = setInterval(() => ctx.heartbeat(), HEARTBEAT_EVERY_MS);
    try {
      return await step(...args);
    } finally {
      clearInterval(timer);
    }
  };
}

/** `agents`: the commands (and secrets) this worker lets the command proposer run (and hand out). */
export function createControlActivities(agents: AgentAllowlist = NO_AGENTS) {
  return {
    prepareRun: heartbeating(prepareRun),
    proposeCandidate: heartbeating((input: ProposeInput) => proposeCandidate(input, agents)),
    rebaseCandidate: heartbeating(rebaseCandidate),
    evaluateCandidate: heartbeating(evaluateCandidate),
    recordExperiment: heartbeating(recordExperiment),
  };
}

export type ControlActivities = ReturnType<typeof createControlActivities>;
export type TrainActivities = ReturnType<typeof createTrainActivities>;
