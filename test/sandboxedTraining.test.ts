// The train activity on a sandboxed worker (the default): a hostile train.py that tries to forge the
// next experiment's retry (its result file and candidate ref), rewrite the run's files and change a
// frozen file at run time gets none of it through, and its own outcome is recorded as it really was.
import { MockActivityEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createTrainActivities } from '../activities/train';
import type { TrainingOutcome } from '../common/types';
import { makeFakeTarget } from './support/fakeTarget';
import { tryWrite } from './support/hostile';
import { preparedRun } from './support/prepared';

describe('training in the sandbox (the default)', () => {
  it('cannot forge a retry, write the run directory or change a frozen file; its outcome stays honest', async () => {
    // Each attempt is a Python expression for the path (found from the worktree's .git file, as an
    // attacker would) and the text it tries to write there.
    const attempt = tryWrite;
    const hostile =
      'gitdir = open(".git").read().split(": ", 1)[1].strip()\n' +
      'common = os.path.normpath(os.path.join(gitdir, "..", ".."))\n' +
      attempt(
        'os.path.join(common, "autoresearch/runs/hostile/logs/exp-0001.result.json")',
        JSON.stringify({ commit: 'x', outcome: { metricText: '0.000001' } }),
      ) +
      attempt('os.path.join(common, "refs/autoresearch/hostile/exp/1")', '0'.repeat(40) + '\n') +
      attempt('"prepare.py"', 'EVAL_TOKENS = 1\n');
    const target = await makeFakeTarget({ extra: hostile });
    const hostileRun = await preparedRun(target, 'hostile');
    const { trainCandidate } = createTrainActivities({ slot: 'gpu0', sandbox: true });
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 30_000 });
    const outcome: TrainingOutcome = await env.run(trainCandidate, {
      repo: target,
      tag: 'hostile',
      n: 0,
      commit: hostileRun.baseCommit,
      config: hostileRun.config,
    });
    const log = readFileSync(outcome.logPath, 'utf8');
    // Under /tmp (a fresh tmpfs in the sandbox) a write may land in the sandbox's own scratch; elsewhere the
    // file system is read-only. Either way nothing reaches the worker's files.
    assert.match(log, /refused: .*Read-only file system: 'prepare.py'/, log);
    const targetCommon = path.join(target, '.git');
    assert.ok(!existsSync(path.join(targetCommon, 'autoresearch/runs/hostile/logs/exp-0001.result.json')));
    assert.ok(!existsSync(path.join(targetCommon, 'refs/autoresearch/hostile/exp/1')));
    assert.equal(outcome.exitCode, 0);
    assert.equal(outcome.metricText, '0.180000', 'the training scored what it really computed');
    assert.deepEqual(outcome.frozenModified, []);
  });
});
