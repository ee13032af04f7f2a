// A tag is used once (issue 13, item 5): after `git branch -D autoresearch/<tag>`, what its earlier run
// left (candidate refs, the run directory with its saved outcomes and records) must never be taken for a
// new run's work. start and prepare refuse the tag with the commands that remove it; after them the tag
// starts a run that trains every experiment anew.
import { WorkflowFailedError } from '@temporalio/client';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { startRun, workflowIdFor } from '../client';
import { experimentLogPath, readRecords } from '../store/runDirectory';
import type { RunSummary } from '../common/types';
import { git, makeFakeTarget } from './support/fakeTarget';
import { assertRunInvariants, checkoutState } from './support/invariants';
import { useHarness } from './support/temporal';

const run = promisify(execFile);

/** Everything of the user's that a refused start must leave as it was. */
async function userState(repo: string) {
  return {
    ...(await checkoutState(repo)),
    status: await git(repo, ['status', '--porcelain', '--untracked-files=all']),
    refs: await git(repo, ['for-each-ref', '--format=%(refname) %(objectname)']),
  };
}

describe('reusing a tag', () => {
  const h = useHarness('tag-reuse');

  it('a tag reused after its branch was deleted: refused with the commands that remove the old run; after them it trains anew', async () => {
    const repo = await makeFakeTarget();
    const tag = 'bad-reused';
    const first = await startRun(h.client, { repo, tag, maxExperiments: 2, ...h.queues });
    assert.equal(((await first.result()) as RunSummary).experimentsDone, 3);
    const old = readRecords(path.join(repo, '.git/autoresearch/runs', tag));
    await git(repo, ['branch', '-D', `autoresearch/${tag}`]);
    const refs = await git(repo, ['for-each-ref', '--format=%(refname)', `refs/autoresearch/${tag}/`]);
    assert.ok(refs.includes(`refs/autoresearch/${tag}/exp/1`), refs);

    // `start` refuses: the old run's refs and run directory would be taken for this run's work.
    const before = await userState(repo);
    const refusal = await startRun(h.client, { repo, tag, ...h.queues }).then(
      () => assert.fail('a start on the old run of the tag was not refused'),
      (err: Error) => err.message,
    );
    assert.match(
      refusal,
      /earlier run tagged bad-reused left its candidate refs .*refs\/autoresearch\/bad-reused\/.* and its run directory/,
    );
    assert.deepEqual(await userState(repo), before, 'the refusal removed nothing');
    const commands = [...refusal.matchAll(/`((?:git -C|rm -rf) [^`]+)`/g)].map((m) => m[1]!);
    assert.equal(commands.length, 2, refusal);

    // prepare refuses the same for a run started without `autoresearch start` (as the stock temporal CLI does).
    const workflowId = `${workflowIdFor(tag)}-stock`;
    const stock = await h.client.workflow.start('researchLoop', {
      workflowId,
      taskQueue: h.queues.taskQueue,
      args: [
        {
          tag,
          repo,
          proposer: 'mutate',
          maxExperiments: 1,
          seed: 0,
          experimentsPerRun: 25,
          trainTaskQueue: h.queues.trainTaskQueue,
          heartbeatTimeoutSeconds: 30,
          searchAttributes: false,
        },
      ],
    });
    const failed = await stock.result().then(
      () => assert.fail('prepare took the old run of the tag for its own'),
      (err: unknown) => err,
    );
    assert.ok(failed instanceof WorkflowFailedError);
    const reasons: string[] = [];
    for (let e: Error | undefined = failed; e; e = e.cause as Error | undefined) reasons.push(e.message);
    assert.match(reasons.join(' / '), /earlier run tagged bad-reused left its candidate refs/);
    assert.equal(
      await git(repo, ['for-each-ref', '--format=%(refname)', `refs/autoresearch/${tag}/`]),
      refs,
      'the refused prepare changed no ref',
    );
    await git(repo, ['branch', '-D', `autoresearch/${tag}`]).catch(() => undefined);

    // The printed commands remove the old run; then the tag starts a run that trains every experiment.
    for (const command of commands) await run('sh', ['-c', command]);
    assert.equal(await git(repo, ['for-each-ref', `refs/autoresearch/${tag}/`]), '');
    const again = await startRun(h.client, { repo, tag, maxExperiments: 2, ...h.queues });
    const summary = (await again.result()) as RunSummary;
    const records = await assertRunInvariants(repo, tag, summary, await checkoutState(repo));
    assert.equal(records.length, 3);
    for (const r of records)
      assert.match(
        readFileSync(experimentLogPath(path.join(repo, '.git/autoresearch/runs', tag), r.n), 'utf8'),
        /step 4/,
        `experiment ${r.n} trained (its log is this run's)`,
      );
    for (const r of records.slice(1))
      assert.ok(!old.some((o) => o.commit === r.commit), `experiment ${r.n} is a new candidate`);
  });
});
