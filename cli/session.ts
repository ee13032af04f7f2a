// What the commands that reach a run share: connect, find the run (`--tag`, or the only running one),
// act, always disconnect; an update's refusal as the error; and the log line setup messages go to.
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { Command } from 'commander';
import type { SignalDefinition } from '@temporalio/common';
import { runHandle } from '../client';
import { connectClient, temporalSettings } from '../temporal/connection';
import { resolveTag } from './findRun';
import { tagOption } from './parse';

/** Progress of setting things up goes to stderr: stdout is for what a command was asked for. */
export const log = (line: string) => console.error(line);

/** Client commands wait this long for a server that does not answer yet (one being started beside them). */
export const CLIENT_RETRY = { retryForMs: 5_000 };

/** Connects, finds the run (`--tag`, or the only running one), calls `act`, and always disconnects. */
export async function withRun(
  tagOption: string | undefined,
  act: (client: Client, tag: string) => Promise<void>,
) {
  const client = await connectClient(temporalSettings(), CLIENT_RETRY);
  try {
    await act(client, await resolveTag(client, tagOption));
  } finally {
    await client.connection.close();
  }
}

/** An update's answer, or its validator's reason as the error (the run did not record it). */
export async function sendUpdate<T>(send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError && err.cause)
      throw new Error(`the run refused: ${err.cause.message}`, { cause: err });
    throw err;
  }
}

/** A command that sends the run one signal without arguments (resume, stop). */
export function addSignalCommand(program: Command, name: string, signal: SignalDefinition<[]>, help: string) {
  program
    .command(name)
    .description(help)
    .addOption(tagOption())
    .action(async (opts: { tag?: string }) => {
      await withRun(opts.tag, async (client, tag) => {
        await runHandle(client, tag).signal(signal);
        console.log(`${name} sent to run ${tag}`);
      });
    });
}
