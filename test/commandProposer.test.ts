// The command proposer: a coding-agent CLI (here a shell script standing in for one) edits a worktree
// of the parent, given the rendered prompt; its changes pass the same gate as any other edit.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startRun } from '../client';
import type { RunSummary } from '../lib/types';
import { git, makeFakeTarget } from './support/fakeTarget';
import { assertRunInvariants, checkoutState } from './support/invariants';
import { useHarness } from './support/temporal';
import { readRecords } from '../activities/record';

describe('command proposer', () => {
  const h = useHarness('command');

  it('runs the agent in a worktree with the prompt, and checks what it changed', async () => {
    const repo = await makeFakeTarget();
    const checkout = await checkoutState(repo);
    // Reads the prompt (fails unless program.md is in it), edits train.py, writes its description.
    const agent =
      'grep -q "Lower val_bpb" "$AUTORESEARCH_PROMPT_FILE" && ' +
      "sed -i 's/^LEARNING_RATE = 0.01 /LEARNING_RATE = 0.015 /' train.py && " +
      'echo "raise LR to 0.015 (experiment $AUTORESEARCH_EXPERIMENT)" > "$AUTORESEARCH_DESCRIPTION_FILE"';
    const handle = await startRun(h.client, {
      repo,
      tag: 'cmd',
      proposer: 'command',
      command: { command: agent, timeoutSeconds: 30 },
      maxExperiments: 2,
      ...h.queues,
    });
    const summary = (await handle.result()) as RunSummary;
    const records = await assertRunInvariants(repo, 'cmd', summary, checkout);
    assert.deepEqual(
      records.map((r) => [r.status, r.description]),
      [
        ['keep', 'baseline'],
        ['keep', 'raise LR to 0.015 (experiment 1)'],
        // On the new parent the same sed finds nothing to change.
        ['invalid', 'raise LR to 0.015 (experiment 2)'],
      ],
    );
    assert.match(records[2]!.reason!, /made no change/);
    assert.match(await git(repo, ['show', `${records[1]!.commit}:train.py`]), /^LEARNING_RATE = 0\.015 /m);
  });

  it('refuses an agent that edits a frozen file', async () => {
    const repo = await makeFakeTarget();
    const handle = await startRun(h.client, {
      repo,
      tag: 'cmd-frozen',
      proposer: 'command',
      command: { command: 'echo "EVAL_TOKENS = 1" >> prepare.py', timeoutSeconds: 30 },
      maxExperiments: 1,
      ...h.queues,
    });
    const summary = (await handle.result()) as RunSummary;
    assert.equal(summary.counts.invalid, 1);
    const [, record] = readRecords(`${repo}/.git/autoresearch/runs/cmd-frozen`);
    assert.match(record!.reason!, /changed prepare\.py, which is not editable/);
    assert.equal(await git(repo, ['status', '--porcelain']), '');
  });
});
