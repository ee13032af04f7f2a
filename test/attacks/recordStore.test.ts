// The record store out of a candidate's reach (issue 14): slot worktrees live outside the target's .git,
// and what a retry reuses (a candidate ref, a saved training result) is trusted only when this worker
// signed it. A hostile train.py forges the next experiment's retry with the sandbox off (it can write
// the run directory and the refs); the forgeries never surface, and the experiment trains for real.
import { MockActivityEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { proposeCandidate } from '../../activities/propose';
import { rebaseCandidate } from '../../activities/rebase';
import { Repo } from '../../store/git';
import { createTrainActivities, type TrainInput } from '../../activities/train';
import type { TrainingOutcome } from '../../common/types';
import { git, makeFakeTarget, signalsDir } from '../support/fakeTarget';
import { tryWrite } from '../support/hostile';
import { preparedRun, proposalInput } from '../support/prepared';

const RUN_ID = 'run-1';

const activityEnv = (tag: string) =>
  new MockActivityEnvironment({
    workflowExecution: { workflowId: `autoresearch-${tag}`, runId: RUN_ID },
    heartbeatTimeoutMs: 30_000,
  });

/** train.py lines that count its runs in a file outside the repository. */
function countRuns(): { code: string; count: () => number } {
  // In the folder the fake target's [sandbox] opens: the count holds sandboxed or not.
  const file = path.join(mkdtempSync(path.join(signalsDir(), 'count-')), 'runs');
  return {
    code: `open(${JSON.stringify(file)}, "a").write("x")\n`,
    count: () => (existsSync(file) ? readFileSync(file, 'utf8').length : 0),
  };
}

/** The score the fake target's train.py computes for its baseline constants. */
const BASELINE_METRIC = '0.180000';

/**
 * train.py lines that forge experiment 1's retry, the way a candidate with write access finds its way:
 * the run's git directory from its worktree's .git file, the commit it runs from the worktree's HEAD, the
 * run id as an earlier result file shows it (given here). It points `exp/1` at its own commit and writes
 * "trained" and "result" files for it with a score it never earned.
 */
function forgeNextRetry(tag: string): string {
  const outcome = {
    exitCode: 0,
    signal: null,
    timedOut: false,
    summary: { val_bpb: 0.000001 },
    metricText: '0.000001',
    logPath: '/dev/null',
    logTail: '',
    trainSeconds: 1,
    slot: 'gpu0',
    frozenModified: [],
  };
  return `import json
gitdir = open(".git").read().split(": ", 1)[1].strip()
common = os.path.normpath(os.path.join(gitdir, "..", ".."))
head = open(os.path.join(gitdir, "HEAD")).read().strip()
refs = os.path.join(common, "refs/autoresearch/${tag}/exp")
os.makedirs(refs, exist_ok=True)
open(os.path.join(refs, "1"), "w").write(head + "\\n")
logs = os.path.join(common, "autoresearch/runs/${tag}/logs")
os.makedirs(logs, exist_ok=True)
for kind in ("trained", "result"):
    forged = {"commit": head, "runId": ${JSON.stringify(RUN_ID)}, "outcome": json.loads(${JSON.stringify(JSON.stringify(outcome))})}
    open(os.path.join(logs, "exp-0001." + kind + ".json"), "w").write(json.dumps(forged))
print("FORGED exp/1 = " + head)
`;
}

/** The slot worktrees of a repository, as git knows them (its own checkout left out). */
async function slotWorktrees(repo: string): Promise<string[]> {
  const list = await git(repo, ['worktree', 'list', '--porcelain']);
  return list
    .split('\n')
    .filter((line) => line.startsWith('worktree '))
    .map((line) => line.slice('worktree '.length))
    .filter((dir) => realpathSync(dir) !== realpathSync(repo));
}

describe('attack: forge the next experiment’s retry (sandbox off)', () => {
  it('a forged candidate ref and forged trained/result files never surface: the next experiment trains for real', async () => {
    const tag = 'rs-forge';
    const runs = countRuns();
    const target = await makeFakeTarget({ extra: runs.code + forgeNextRetry(tag) });
    // A baseline with a parent, as a candidate has: the forged ref then passes for one.
    await git(target, ['commit', '-q', '--allow-empty', '-m', 'later work']);
    const run = await preparedRun(target, tag);
    const { trainCandidate } = createTrainActivities({ slot: 'gpu0', sandbox: false });
    const train = (input: Omit<TrainInput, 'repo' | 'tag' | 'config'>): Promise<TrainingOutcome> =>
      activityEnv(tag).run(trainCandidate, { repo: target, tag, config: run.config, ...input });

    const baseline = await train({ n: 0, commit: run.baseCommit });
    assert.equal(baseline.metricText, BASELINE_METRIC);
    assert.match(readFileSync(baseline.logPath, 'utf8'), /FORGED exp\/1/, 'unsandboxed, the attack ran');
    // The forgeries are in place, as a retry would find them.
    assert.equal(await git(target, ['rev-parse', `refs/autoresearch/${tag}/exp/1`]), run.baseCommit);
    assert.ok(existsSync(path.join(run.runDir, 'logs/exp-0001.result.json')));

    const candidate = await proposeCandidate(proposalInput(target, tag, run));
    assert.notEqual(candidate.commit, run.baseCommit, 'the forged ref was not taken for a retry');
    assert.equal(candidate.parent, run.baseCommit);
    assert.equal(
      await git(target, ['rev-parse', `refs/autoresearch/${tag}/exp/1`]),
      candidate.commit,
      'the ref names the real candidate',
    );

    const before = runs.count();
    const outcome = await train({ n: 1, commit: candidate.commit });
    assert.equal(runs.count(), before + 1, 'experiment 1 trained');
    assert.notEqual(outcome.metricText, '0.000001', 'the forged score never surfaced');
    assert.match(readFileSync(outcome.logPath, 'utf8'), new RegExp(`val_bpb: +${outcome.metricText}`));

    // Even forgeries naming the real candidate's commit (its own training wrote them again, with its
    // HEAD) are not taken: the retry below trains once more instead of returning them.
    for (const kind of ['trained', 'result'])
      writeFileSync(
        path.join(run.runDir, `logs/exp-0001.${kind}.json`),
        JSON.stringify({
          commit: candidate.commit,
          runId: RUN_ID,
          outcome: { ...outcome, metricText: '0.000001' },
        }),
      );
    const again = await train({ n: 1, commit: candidate.commit });
    assert.equal(runs.count(), before + 2, 'the unsigned files were ignored: it trained again');
    assert.equal(again.metricText, outcome.metricText);
  });

  it('a marker the worker signed for another experiment, or one with a byte changed, is ignored', async () => {
    const tag = 'rs-moved';
    const runs = countRuns();
    const target = await makeFakeTarget({ extra: runs.code });
    const run = await preparedRun(target, tag);
    const { trainCandidate } = createTrainActivities({ slot: 'gpu0' });
    const train = (n: number): Promise<TrainingOutcome> =>
      activityEnv(tag).run(trainCandidate, {
        repo: target,
        tag,
        n,
        commit: run.baseCommit,
        config: run.config,
      });
    const logs = path.join(run.runDir, 'logs');

    // Experiment 2's own, honest markers, copied to experiment 1's names (same commit, same run).
    await train(2);
    assert.equal(runs.count(), 1);
    for (const kind of ['trained', 'result'])
      copyFileSync(path.join(logs, `exp-0002.${kind}.json`), path.join(logs, `exp-0001.${kind}.json`));
    const one = await train(1);
    assert.equal(runs.count(), 2, "experiment 1 trained: experiment 2's markers are not its own");
    assert.equal(one.metricText, BASELINE_METRIC);

    // Experiment 1's own markers with the score changed in place: the signature no longer holds.
    for (const kind of ['trained', 'result']) {
      const file = path.join(logs, `exp-0001.${kind}.json`);
      const text = readFileSync(file, 'utf8');
      assert.ok(text.includes(BASELINE_METRIC), text);
      writeFileSync(file, text.replaceAll(BASELINE_METRIC, '0.100000'));
    }
    const tampered = await train(1);
    assert.equal(runs.count(), 3, 'the tampered markers were ignored: it trained again');
    assert.equal(tampered.metricText, BASELINE_METRIC);
  });
});

describe('attack: write the record store (sandbox on)', () => {
  it('the slot worktree is outside the target’s .git, and a sandboxed training writes nothing under it', async () => {
    const tag = 'rs-reach';
    // Each attempt writes a file and reports; the test then looks on the host.
    const attempt = (target: string) => tryWrite(target, 'hostile');
    const hostile =
      'gitdir = open(".git").read().split(": ", 1)[1].strip()\n' +
      'common = os.path.normpath(os.path.join(gitdir, "..", ".."))\n' +
      attempt(`os.path.join(common, "autoresearch/runs/${tag}/hostile.txt")`) +
      attempt(`os.path.join(common, "refs/autoresearch/${tag}/exp/7")`) +
      attempt('os.path.join(gitdir, "hostile.txt")') +
      attempt('os.path.abspath(os.path.join("..", "hostile.txt"))');
    const target = await makeFakeTarget({ extra: hostile });
    const run = await preparedRun(target, tag);
    const { trainCandidate } = createTrainActivities({ slot: 'gpu0', sandbox: true });
    const outcome: TrainingOutcome = await activityEnv(tag).run(trainCandidate, {
      repo: target,
      tag,
      n: 0,
      commit: run.baseCommit,
      config: run.config,
    });

    const common = realpathSync(path.join(target, '.git'));
    const worktrees = await slotWorktrees(target);
    assert.equal(worktrees.length, 1, worktrees.join(', '));
    const worktree = realpathSync(worktrees[0]!);
    assert.ok(!worktree.startsWith(common + path.sep), `the slot worktree ${worktree} is under ${common}`);
    // The slot's own state (lock, pid file, set-up marker) sits beside the worktree, not in it.
    assert.ok(existsSync(path.join(worktree, '..', 'lock')), 'the lock is beside the worktree');

    const gitdir = (await git(worktree, ['rev-parse', '--absolute-git-dir'])).trim();
    for (const file of [
      path.join(run.runDir, 'hostile.txt'),
      path.join(common, `refs/autoresearch/${tag}/exp/7`),
      path.join(gitdir, 'hostile.txt'),
      path.join(worktree, '..', 'hostile.txt'),
    ])
      assert.ok(!existsSync(file), `the sandboxed training wrote ${file}`);
    assert.equal(await git(target, ['for-each-ref', `refs/autoresearch/${tag}/exp/7`]), '');
    assert.equal(outcome.exitCode, 0);
    assert.equal(outcome.metricText, BASELINE_METRIC, 'recorded as it really was');
  });
});

describe('the retries the worker signed still work', () => {
  it('a training whose worker died after saving its result returns it on retry without training again', async () => {
    const tag = 'rs-retry';
    const runs = countRuns();
    const target = await makeFakeTarget({ extra: runs.code });
    const run = await preparedRun(target, tag);
    const { trainCandidate } = createTrainActivities({ slot: 'gpu0' });
    const input = { repo: target, tag, n: 1, commit: run.baseCommit, config: run.config };
    const first: TrainingOutcome = await activityEnv(tag).run(trainCandidate, input);
    // The worker "died" between saving the result and reporting it: the retry finds the result.
    const retry: TrainingOutcome = await activityEnv(tag).run(trainCandidate, input);
    assert.equal(runs.count(), 1, 'the retry did not train');
    assert.deepEqual(retry, first);
    const marker = JSON.parse(readFileSync(path.join(run.runDir, 'logs/exp-0001.result.json'), 'utf8')) as {
      payload?: unknown;
      mac?: unknown;
    };
    assert.equal(typeof marker.mac, 'string', 'the saved result is signed');
    assert.ok(marker.payload, 'and holds what it signs');
  });

  it('a proposal retried after its worker died between the signed marker and the ref still makes its candidate', async () => {
    const tag = 'rs-propose';
    const target = await makeFakeTarget();
    const run = await preparedRun(target, tag);
    const input = proposalInput(target, tag, run);
    const first = await proposeCandidate(input);
    const retry = await proposeCandidate(input);
    assert.deepEqual(retry, first, 'a retry with its signed ref in place returns the same candidate');
    // Died after signing, before the ref: nothing to reuse, so it proposes again and the ref follows.
    await git(target, ['update-ref', '-d', `refs/autoresearch/${tag}/exp/1`]);
    const again = await proposeCandidate(input);
    assert.equal(await git(target, ['rev-parse', `refs/autoresearch/${tag}/exp/1`]), again.commit);
    assert.equal(again.parent, run.baseCommit);
  });

  it('a rebase retried finds its own move; a ref on the new best that it did not make is not taken for one', async () => {
    const tag = 'rs-rebase';
    const target = await makeFakeTarget();
    const repo = await Repo.open(target);
    const base = await git(target, ['rev-parse', 'HEAD']);
    const train = await git(target, ['show', 'HEAD:train.py']);
    const commitOn = async (parent: string, from: string, to: string) =>
      repo.commitTree(
        await repo.writeTree(parent, { 'train.py': train.replace(from, to) + '\n' }),
        parent,
        `set ${to}`,
      );
    const best = await commitOn(base, 'WIDTH = 16', 'WIDTH = 20');
    const candidate = await commitOn(base, 'LEARNING_RATE = 0.01', 'LEARNING_RATE = 0.03');
    // A hostile training planted exp/2 on the new best, as a finished rebase would have left it.
    const forged = await commitOn(best, 'LEARNING_RATE = 0.01', 'LEARNING_RATE = 0.99');
    await git(target, ['update-ref', `refs/autoresearch/${tag}/exp/2`, forged]);
    const input = { repo: target, tag, n: 2, commit: candidate, parent: base, onto: best };

    const rebased = await rebaseCandidate(input);
    assert.ok('commit' in rebased, JSON.stringify(rebased));
    assert.notEqual(rebased.commit, forged, 'the planted ref was not taken for a rebase already made');
    const text = await git(target, ['show', `${rebased.commit}:train.py`]);
    assert.match(text, /LEARNING_RATE = 0\.03/);
    assert.match(text, /WIDTH = 20/);
    assert.equal(await git(target, ['rev-parse', `refs/autoresearch/${tag}/exp/2`]), rebased.commit);
    assert.deepEqual(await rebaseCandidate(input), rebased, 'a retry finds its own move');
  });
});
