// The command proposer: a coding-agent CLI (here a shell script standing in for one) edits a worktree
// of the parent, given the rendered prompt; its changes pass the same gate as any other edit.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
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
      // One proposal after the other: the second is made on the first's keep.
      pipeline: false,
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

  it('never runs what a proposal says: its description goes through git and files as data', async () => {
    const repo = await makeFakeTarget();
    const marker = path.join(mkdtempSync(path.join(tmpdir(), 'ar-marker-')), 'pwned');
    // Under the 120 characters a description keeps: a relative marker, created in the worktree if run.
    const hostile = `raise LR $(touch pwned) \`touch pwned\` "; touch ${marker}; echo "`;
    // The agent writes the description with printf %s, so the text arrives unexpanded.
    const agent =
      "sed -i 's/^LEARNING_RATE = 0.01 /LEARNING_RATE = 0.015 /' train.py && " +
      `printf '%s\\n' '${hostile.replace(/'/g, "'\\''")}' > "$AUTORESEARCH_DESCRIPTION_FILE"`;
    const handle = await startRun(h.client, {
      repo,
      tag: 'hostile',
      proposer: 'command',
      command: { command: agent, timeoutSeconds: 30 },
      maxExperiments: 1,
      ...h.queues,
    });
    await handle.result();
    const [, record] = readRecords(`${repo}/.git/autoresearch/runs/hostile`);
    assert.equal(record!.description, hostile, 'recorded verbatim');
    assert.equal(await git(repo, ['log', '-1', '--format=%s', record!.commit]), hostile);
    for (const file of [marker, path.join(repo, 'pwned'), path.resolve('pwned')])
      assert.equal(existsSync(file), false, `nothing in it was executed (${file})`);
  });

  it('gives the agent no secret, except those passed on by name', async () => {
    const seen = mkdtempSync(path.join(tmpdir(), 'ar-agent-env-'));
    // The worker is in this process: these are the secrets a real worker would hold.
    const saved = { ...process.env };
    const repos: string[] = [];
    Object.assign(process.env, {
      ANTHROPIC_API_KEY: 'sk-ant-test-not-real',
      TEMPORAL_API_KEY: 'temporal-test-not-real',
      HF_TOKEN: 'hf-test-not-real',
    });
    try {
      for (const [tag, passEnv] of [
        ['env-none', undefined],
        ['env-pass', ['ANTHROPIC_API_KEY']],
      ] as const) {
        const repo = await makeFakeTarget({ extra: 'print(dict(os.environ))' });
        repos.push(repo);
        // It also prints its environment into its own log; the training prints its own into its log.
        const agent = `env | tee "${seen}/${tag}.env"; sed -i 's/^WIDTH = 16 /WIDTH = 20 /' train.py`;
        const handle = await startRun(h.client, {
          repo,
          tag,
          proposer: 'command',
          command: { command: agent, timeoutSeconds: 30, passEnv: passEnv ? [...passEnv] : undefined },
          maxExperiments: 1,
          ...h.queues,
        });
        await handle.result();
      }
    } finally {
      for (const name of ['ANTHROPIC_API_KEY', 'TEMPORAL_API_KEY', 'HF_TOKEN'])
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
    }
    // Nothing the run wrote (logs of the agent and of training, records, results.tsv) holds a secret.
    const written = readdirSync(path.join(repos[0]!, '.git/autoresearch/runs/env-none'), { recursive: true })
      .map((f) => path.join(repos[0]!, '.git/autoresearch/runs/env-none', String(f)))
      .filter((f) => statSync(f).isFile());
    assert.ok(
      written.some((f) => f.endsWith('.command.log')) && written.some((f) => f.endsWith('exp-0001.log')),
    );
    for (const file of written) assert.doesNotMatch(readFileSync(file, 'utf8'), /not-real/, file);
    const none = readFileSync(path.join(seen, 'env-none.env'), 'utf8');
    assert.doesNotMatch(none, /not-real/, 'no secret reaches the agent');
    assert.match(none, /^AUTORESEARCH_PROMPT_FILE=/m, 'it gets what it needs');
    const passed = readFileSync(path.join(seen, 'env-pass.env'), 'utf8');
    assert.match(passed, /^ANTHROPIC_API_KEY=sk-ant-test-not-real$/m, 'a secret passed on by name');
    assert.doesNotMatch(passed, /temporal-test-not-real|hf-test-not-real/, 'and only that one');
  });
});
