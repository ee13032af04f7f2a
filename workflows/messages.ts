// Every message a run understands, with names a person can type into the stock CLI:
//   temporal workflow signal --workflow-id autoresearch-<tag> --name pause
//   temporal workflow signal --workflow-id autoresearch-<tag> --name redirect --input '"try a deeper model"'
//   temporal workflow query  --workflow-id autoresearch-<tag> --type status
// They are signals rather than updates so that they work from any client, even while no worker is up:
// the run reads them as soon as a worker picks it up again.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { RunStatus } from '../lib/types';

/** Finish the experiment in flight, then start no new one until `resume`. */
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
/** Finish the experiment in flight, then end the run with its summary. */
export const stopSignal = defineSignal('stop');
/** A note from the operator that every later proposal sees (e.g. "focus on the optimizer"). */
export const redirectSignal = defineSignal<[string]>('redirect');

export const statusQuery = defineQuery<RunStatus>('status');
