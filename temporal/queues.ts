// The task queues this process uses: the defaults (common/names.ts) unless the environment names
// others. One module for both sides, so a client starts runs on the queues its workers poll.
import { DEFAULT_CONTROL_TASK_QUEUE, DEFAULT_TRAIN_TASK_QUEUE } from '../common/names';

export const CONTROL_TASK_QUEUE = process.env.AUTORESEARCH_TASK_QUEUE ?? DEFAULT_CONTROL_TASK_QUEUE;
export const TRAIN_TASK_QUEUE = process.env.AUTORESEARCH_TRAIN_TASK_QUEUE ?? DEFAULT_TRAIN_TASK_QUEUE;
