// A run prepared the way the workflow's first step prepares it (the prepare activity, in a mock
// activity context), and the input of one of its proposals: for tests that drive activities directly.
import { MockActivityEnvironment } from '@temporalio/testing';
import { prepareRun, type PrepareInput } from '../../activities/prepare';
import type { ProposeInput } from '../../activities/propose';
import type { PreparedRun } from '../../common/types';

export function preparedRun(
  repo: string,
  tag: string,
  extra: Partial<Omit<PrepareInput, 'repo' | 'tag'>> = {},
): Promise<PreparedRun> {
  const env = new MockActivityEnvironment({
    workflowExecution: { workflowId: `autoresearch-${tag}`, runId: 'run-1' },
  });
  return env.run(prepareRun, { repo, tag, ...extra });
}

/** Experiment 1 (or `extra.n`) of a prepared run, on its baseline, by the mutate proposer unless `extra` says. */
export function proposalInput(
  repo: string,
  tag: string,
  run: PreparedRun,
  extra: Partial<ProposeInput> = {},
): ProposeInput {
  const { baseCommit: parent, config, runDir } = run;
  return { repo, tag, n: 1, parent, proposer: 'mutate', seed: 0, config, notes: [], runDir, ...extra };
}
