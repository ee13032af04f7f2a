// Step 0 of a run: validate the target and open its research branch.
// Protects invariant 3 (the frozen files' blobs are recorded here, the yardstick for every later
// experiment) and invariant 4 (the branch is created by ref, the user's checkout is not touched).
import { Context } from '@temporalio/activity';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { PreparedRun } from '../lib/types';
import { Repo, branchName, candidateRef } from '../lib/node/git';
import { publishRef } from '../lib/node/remote';
import { runDir as runDirOf } from '../lib/node/runPaths';
import { branchTaken, checkTag, inspectTarget } from '../lib/node/target';
import { checkGateRuns } from '../lib/node/validateEdit';

export interface PrepareInput {
  repo: string;
  tag: string;
  budgetSeconds?: number;
  timeoutSeconds?: number;
  /** The run's git remote: the baseline and the branch are published there for training elsewhere. */
  remote?: string;
}

export async function prepareRun(input: PrepareInput): Promise<PreparedRun> {
  checkTag(input.tag);
  const repo = await Repo.open(input.repo);
  const { runId, workflowId } = Context.current().info.workflowExecution ?? {
    runId: 'none',
    workflowId: 'none',
  };

  // The branch must be new, unless it is this very run's (a retry of this activity after a crash):
  // then the baseline is where the branch already points.
  const runDir = runDirOf(repo.commonDir, input.tag);
  const ownerFile = path.join(runDir, 'owner.json');
  const branch = branchName(input.tag);
  const existing = await repo.readRef(`refs/heads/${branch}`);
  if (existing) {
    const owner = existsSync(ownerFile)
      ? (JSON.parse(readFileSync(ownerFile, 'utf8')) as { runId: string })
      : null;
    if (owner?.runId !== runId) throw branchTaken(repo, input.tag);
  }
  const target = await inspectTarget(input.repo, input, existing ?? undefined);
  // Before the branch and the baseline: a worker that cannot check edits would fail at the first one.
  await checkGateRuns(target.config);
  if (!existing) {
    mkdirSync(runDir, { recursive: true });
    writeFileSync(ownerFile, JSON.stringify({ runId, workflowId }));
    await repo.createRef(`refs/heads/${branch}`, target.base);
  }
  await repo.createRef(candidateRef(input.tag, 0), target.base);
  await publishRef(repo, candidateRef(input.tag, 0), input.remote);
  await publishRef(repo, `refs/heads/${branch}`, input.remote);
  return { branch, baseCommit: target.base, config: target.config, frozenBlobs: target.frozenBlobs, runDir };
}
