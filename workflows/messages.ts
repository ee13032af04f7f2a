// Every message a run understands, with names a person can type into the stock CLI
// (the README lists the one-liners):
//   temporal workflow signal --workflow-id autoresearch-<tag> --name pause [--input '{"now":true}']
//   temporal workflow signal --workflow-id autoresearch-<tag> --name resume | stop
//   temporal workflow update execute --workflow-id autoresearch-<tag> --name redirect --input '"try a deeper model"'
//   temporal workflow update execute --workflow-id autoresearch-<tag> --name queue --input '"use RMSNorm"'
//   temporal workflow update execute --workflow-id autoresearch-<tag> --name limits --input '{"maxExperiments":50}'
//   temporal workflow query --workflow-id autoresearch-<tag> --type status
// Pause, resume and stop are signals: they need no answer, so they work from any client even while no
// worker is up (the run reads them when a worker picks it up again). Redirect, queue and limits are
// updates: their input can be wrong, and a validator rejects it with the reason before it is recorded.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { LimitsChange, RunStatus } from '../common/types';

export interface PauseOptions {
  /** Cancel the experiment in flight (recorded as `cancelled`) instead of letting it finish. */
  now?: boolean;
}

/** Finish the experiment in flight (or cancel it, with `now`), then start no new one until `resume`. */
export const pauseSignal = defineSignal<[PauseOptions?]>('pause');
export const resumeSignal = defineSignal('resume');
/** Finish the experiment in flight, then end the run with its summary. */
export const stopSignal = defineSignal('stop');

/** A note every later proposal sees (e.g. "focus on the optimizer"); answers all notes so far. */
export const redirectUpdate = defineUpdate<string[], [string]>('redirect');
/** An idea to try next, before the proposer's own; answers the queue. */
export const queueUpdate = defineUpdate<string[], [string]>('queue');
/** Change the max experiments or the deadline of a live run; answers the limits now in force. */
export const limitsUpdate = defineUpdate<
  { maxExperiments: number | null; deadline: string | null },
  [LimitsChange]
>('limits');

export const statusQuery = defineQuery<RunStatus>('status');
