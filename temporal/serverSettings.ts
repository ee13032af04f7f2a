// The server settings the research loop wants from any Temporal server it runs on, the embedded dev
// server and a self-hosted cluster alike (deploy/temporal/dynamicconfig.yaml says the same to the latter).
//
// One partition for new tasks: a queue's tasks are spread over four partitions by default, and a task
// that waits (scheduled while every slot of its worker was busy: a confirmation re-run, the steps of a
// wide run on the control worker) then often sits in a partition the worker's next poll does not reach,
// so it starts up to 1.7 s late. A research loop schedules a few tasks a second, far below what one
// partition carries. Only writes go to one: the server still reads all four, so tasks left in the
// others by a server started without this setting are still delivered.

/** The dynamic config values, by key (a Temporal server's dynamic config). */
export const SERVER_DYNAMIC_CONFIG: Record<string, number> = {
  'matching.numTaskqueueWritePartitions': 1,
};

/** The `--dynamic-config-value key=value` flags of `temporal server start-dev` that set them. */
export function devServerDynamicConfigFlags(): string[] {
  return Object.entries(SERVER_DYNAMIC_CONFIG).flatMap(([key, value]) => [
    '--dynamic-config-value',
    `${key}=${JSON.stringify(value)}`,
  ]);
}
