// Step 0 of a run: validate the target and open its research branch.
// Protects invariants 3 and 4 of docs/ARCHITECTURE.md: the frozen files' blobs are recorded here, the
// yardstick for every later experiment; the branch is created by ref, the user's checkout is not touched.
import { Context } from '@temporalio/activity';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { PreparedRun } from '../common/types';
import { Repo } from '../store/git';
import { branchName, candidateRef } from '../common/names';
import { publishRef } from '../store/remote';
import { runDir as runDirOf } from '../store/runDirectory';
import { targetError } from '../common/errors';
import { branchTaken, checkTag, earlierRun, inspectTarget } from '../target/inspection';
import { checkGateRuns } from '../proposers/editGate';

export interface PrepareInput {
  repo: string;
  tag: string;
  budgetSeconds?: number;
  timeoutSeconds?: number;
  /** The commit `start` checked: the run's baseline (absent in runs started before it was pinned: HEAD). */
  baseline?: string;
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
  const ours = readOwner(ownerFile)?.runId === runId;
  if (existing && !ours) throw branchTaken(repo, input.tag);
  // Nor may it take for its own what an earlier run of the tag left (its branch deleted since): the old
  // candidates and saved outcomes would be "trained" again in no time, the old records mixed in.
  if (!ours) {
    const earlier = await earlierRun(repo, input.tag);
    if (earlier) throw earlier;
  }
  if (input.baseline !== undefined && !/^[0-9a-f]{40}(?:[0-9a-f]{24})?$/.test(input.baseline))
    throw targetError(
      `The run's baseline must be a full commit SHA (start pins the HEAD it checked); got ${JSON.stringify(input.baseline.slice(0, 80))}. ` +
        `Start the run with \`autoresearch start ${repo.root} --tag ${input.tag}\`, or give options.baseline as \`git rev-parse HEAD\` prints it.`,
    );
  if (!existing && input.baseline && !(await repo.resolve(input.baseline)))
    throw targetError(
      `The baseline ${input.baseline} that \`autoresearch start\` checked is no longer in ${repo.root} ` +
        '(removed before a worker prepared the run, e.g. by a rebase and `git gc`): restore that commit (e.g. ' +
        `fetch it from another clone) and start the run again, or start it on what is checked out now: ` +
        `\`autoresearch start ${repo.root} --tag ${input.tag}\`.`,
    );
  // The baseline is the commit `start` checked (runs started before it was pinned: HEAD, read now).
  const target = await inspectTarget(input.repo, input, existing ?? input.baseline);
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

/** The run that opened the run directory: its workflow run id, written at its first prepare. */
function readOwner(ownerFile: string): { runId: string } | null {
  if (!existsSync(ownerFile)) return null;
  try {
    return JSON.parse(readFileSync(ownerFile, 'utf8')) as { runId: string };
  } catch {
    return null;
  }
}
