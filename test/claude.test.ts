// The claude proposer end to end: the real @anthropic-ai/sdk against a loopback stand-in for the
// Messages API, inside a real run. What the model is shown, how its edits are applied and repaired,
// what it costs, and how API errors are handled (retried by Temporal, or pausing the run).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startRun } from '../client';
import type { RunSummary } from '../common/types';
import { redirectUpdate, statusQuery } from '../workflows/messages';
import { proposeCandidate } from '../activities/propose';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { proposeWithClaude } from '../proposers/claude/proposer';
import { git, makeFakeTarget } from './support/fakeTarget';
import { preparedRun, proposalInput } from './support/prepared';
import {
  startFakeAnthropic,
  type FakeAnthropic,
  type RecordedRequest,
  type Reply,
} from './support/fakeAnthropic';
import { assertRunInvariants, checkoutState } from './support/invariants';
import { useHarness } from './support/temporal';
import { waitFor } from './support/waitFor';

const NOTE = 'focus on the learning rate';

function edit(description: string, old_string: string, new_string: string): Extract<Reply, { kind: 'tool' }> {
  return {
    kind: 'tool',
    input: {
      description,
      hypothesis: `because ${description}`,
      edits: [{ file: 'train.py', old_string, new_string }],
    },
    usage: {
      input_tokens: 900,
      output_tokens: 150,
      cache_creation_input_tokens: 4000,
      cache_read_input_tokens: 0,
    },
  };
}

/** The user message text of a request (the first turn). */
function firstUserText(request: RecordedRequest): string {
  const content = request.body.messages[0].content;
  return typeof content === 'string' ? content : JSON.stringify(content);
}

describe('claude proposer', () => {
  let fake: FakeAnthropic;
  const h = useHarness('claude');
  const saved = { url: process.env.ANTHROPIC_BASE_URL, key: process.env.ANTHROPIC_API_KEY };

  before(async () => {
    fake = await startFakeAnthropic();
    process.env.ANTHROPIC_BASE_URL = fake.url;
    process.env.ANTHROPIC_API_KEY = 'test-key-not-real';
  });
  after(async () => {
    await fake.close();
    for (const [name, value] of [
      ['ANTHROPIC_BASE_URL', saved.url],
      ['ANTHROPIC_API_KEY', saved.key],
    ] as const)
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
  });

  it('proposes, repairs, learns from a crash, refuses duplicates, survives a rate limit, and counts the cost', async () => {
    const repo = await makeFakeTarget({ crashWhen: 'WIDTH != 16' });
    const checkout = await checkoutState(repo);
    fake.push(
      edit('raise LR to 0.015', 'LEARNING_RATE = 0.01', 'LEARNING_RATE = 0.015'), // exp 1: keep
      edit('widen the model', 'WIDTH = 99', 'WIDTH = 20'), // exp 2: old_string not found ...
      edit('widen the model', 'WIDTH = 16', 'WIDTH = 20'), // ... repaired; it crashes
      edit('back to LR 0.01', 'LEARNING_RATE = 0.015', 'LEARNING_RATE = 0.01'), // exp 3: a duplicate of the baseline ...
      edit('back to LR 0.01', 'LEARNING_RATE = 0.015', 'LEARNING_RATE = 0.01'), // ... twice: invalid, not trained
      {
        kind: 'error',
        status: 429,
        type: 'rate_limit_error',
        message: 'slow down',
        headers: { 'retry-after': '1' },
      },
      edit('lower LR to 0.012', 'LEARNING_RATE = 0.015', 'LEARNING_RATE = 0.012'), // exp 4: discard
      { kind: 'error', status: 529, type: 'overloaded_error', message: 'Overloaded' },
      edit('raise LR to 0.02', 'LEARNING_RATE = 0.015', 'LEARNING_RATE = 0.02'), // exp 5: keep
    );
    const handle = await startRun(h.client, {
      repo,
      tag: 'claude',
      // One proposal after the other: each prompt sees every result before it (pipelining would
      // propose the next experiment before the current one is scored).
      pipeline: false,
      proposer: 'claude',
      maxExperiments: 5,
      ...h.queues,
    });
    await handle.executeUpdate(redirectUpdate, { args: [NOTE] });
    const summary = (await handle.result()) as RunSummary;
    const records = await assertRunInvariants(repo, 'claude', summary, checkout);

    assert.deepEqual(
      records.map((r) => r.status),
      ['keep', 'keep', 'crash', 'invalid', 'discard', 'keep'],
    );
    assert.equal(summary.best?.commit, records[5]!.commit);
    assert.equal(records[1]!.description, 'raise LR to 0.015');
    assert.equal(records[1]!.hypothesis, 'because raise LR to 0.015');
    assert.match(records[3]!.reason!, /already tried/);
    assert.equal(
      records[3]!.commit,
      records[1]!.commit,
      'an invalid proposal trains nothing and stays on its parent',
    );
    assert.equal(records[3]!.trainSeconds, 0);

    // What the model saw.
    const requests = fake.requests;
    assert.equal(
      requests.length,
      9,
      'one call per proposal and per repair, plus the 429 and the 529 retried',
    );
    assert.doesNotMatch(
      JSON.stringify(requests.map((r) => r.body)),
      /test-key-not-real/,
      'no secret in any request',
    );
    const first = requests[0]!;
    assert.equal(first.headers.authorization, 'Bearer test-key-not-real');
    assert.deepEqual(first.body.tool_choice, { type: 'tool', name: 'propose_edit' });
    assert.deepEqual(
      first.body.system[0].cache_control,
      { type: 'ephemeral', ttl: '1h' },
      'the stable prefix is cached, for longer than a training',
    );
    assert.match(first.body.system[0].text, /# program\nLower val_bpb\./, 'program.md');
    assert.match(first.body.system[0].text, /<file path="prepare.py">/, 'frozen files as context');
    assert.match(
      firstUserText(first),
      /<file path="train.py">[\s\S]*LEARNING_RATE = 0\.01 /,
      'the editable file',
    );
    assert.match(firstUserText(first), new RegExp(NOTE), 'the operator note reaches the proposal');
    assert.match(firstUserText(first), /0\tkeep\t0\.180000\tbaseline/, 'the results so far');
    const repair = requests[2]!.body.messages;
    assert.equal(repair.length, 3);
    assert.match(
      JSON.stringify(repair[2].content),
      /old_string was not found/,
      'the repair round shows the error',
    );
    assert.match(
      firstUserText(requests[3]!),
      /Experiment 2 crashed: widen the model[\s\S]*RuntimeError: this configuration crashes/,
    );
    assert.match(JSON.stringify(requests[4]!.body.messages[2].content), /already tried/);

    // What it cost: the sums of the usage fields of every successful call, priced per million tokens.
    const calls = [0, 1, 2, 2, 1, 1]; // API answers per experiment (a repair round is a second answer)
    records.forEach((r, i) => {
      const k = calls[i]!;
      assert.deepEqual(
        r.cost && { ...r.cost, dollars: undefined },
        k === 0
          ? undefined
          : {
              inputTokens: 900 * k,
              outputTokens: 150 * k,
              cacheCreationTokens: 4000 * k,
              cacheReadTokens: 0,
              dollars: undefined,
            },
      );
      if (k > 0)
        assert.equal(r.cost!.dollars, (k * (900 * 3 + 4000 * 3 * 2 + 150 * 15)) / 1e6, 'sonnet list prices');
    });
    const total = records.reduce((sum, r) => sum + (r.cost?.dollars ?? 0), 0);
    assert.ok(Math.abs(summary.spend.dollars - total) < 1e-9);
    assert.equal(summary.spend.inputTokens, 900 * 7);
  });

  it('ends the run cleanly when the spend limit is reached', async () => {
    const repo = await makeFakeTarget();
    // Each answer costs about $0.02; the limit is crossed by the second proposal.
    fake.push(
      edit('raise LR to 0.015', 'LEARNING_RATE = 0.01', 'LEARNING_RATE = 0.015'),
      edit('raise LR to 0.02', 'LEARNING_RATE = 0.015', 'LEARNING_RATE = 0.02'),
    );
    const handle = await startRun(h.client, {
      repo,
      tag: 'claude-budget',
      // One proposal after the other: each prompt sees every result before it (pipelining would
      // propose the next experiment before the current one is scored).
      pipeline: false,
      proposer: 'claude',
      maxDollars: 0.03,
      ...h.queues,
    });
    const summary = (await handle.result()) as RunSummary;
    assert.equal(summary.reason, 'spend-limit');
    assert.equal(summary.experimentsDone, 3);
    assert.ok(summary.spend.dollars >= 0.03);
  });

  it('a proposal retried after a crash between the answer and the commit does not pay twice', async () => {
    const repo = await makeFakeTarget();
    const run = await preparedRun(repo, 'once');
    const input = proposalInput(repo, 'once', run, { proposer: 'claude' });
    fake.push(edit('raise LR to 0.015', 'LEARNING_RATE = 0.01', 'LEARNING_RATE = 0.015'));
    const before = fake.requests.length;
    const first = await proposeCandidate(input);
    // The worker died after the API answered but before the candidate's ref was written.
    await git(repo, ['update-ref', '-d', 'refs/autoresearch/once/exp/1']);
    const retried = await proposeCandidate(input);
    assert.equal(fake.requests.length, before + 1, 'one API call for the experiment, not two');
    assert.equal(retried.description, first.description);
    assert.deepEqual(retried.cost, first.cost);
    assert.equal(
      await git(repo, ['rev-parse', `${retried.commit}^{tree}`]),
      await git(repo, ['rev-parse', `${first.commit}^{tree}`]),
    );
    assert.equal(
      (await git(repo, ['for-each-ref', '--count=9', 'refs/autoresearch/once/exp/1'])) !== '',
      true,
    );
  });

  it('a saved answer the worker did not sign (a training planted it) is not taken: the API is asked', async () => {
    const repo = await makeFakeTarget();
    const run = await preparedRun(repo, 'planted');
    const input = proposalInput(repo, 'planted', run, { proposer: 'claude' });
    const planted = {
      files: { 'train.py': 'print("planted")\n' },
      description: 'planted by a training',
      hypothesis: 'none',
      cost: { inputTokens: 0, outputTokens: 0, cacheCreationTokens: 0, cacheReadTokens: 0, dollars: 0 },
    };
    mkdirSync(path.join(run.runDir, 'proposals'), { recursive: true });
    writeFileSync(path.join(run.runDir, 'proposals', 'exp-0001.json'), JSON.stringify(planted));
    fake.push(edit('raise LR to 0.015', 'LEARNING_RATE = 0.01', 'LEARNING_RATE = 0.015'));
    const before = fake.requests.length;
    const candidate = await proposeCandidate(input);
    assert.equal(fake.requests.length, before + 1, 'the API was asked');
    assert.equal(candidate.description, 'raise LR to 0.015');
    assert.match(await git(repo, ['show', `${candidate.commit}:train.py`]), /LEARNING_RATE = 0\.015/);
  });

  it('an attempt that was paid and then failed counts in the spend of the attempt that succeeds', async () => {
    const repo = await makeFakeTarget();
    const run = await preparedRun(repo, 'paid');
    const input = proposalInput(repo, 'paid', run, { proposer: 'claude' });
    fake.push(
      // Attempt 1: an answer that needs repair (paid for), then the API fails the repair call.
      edit('widen the model', 'WIDTH = 99', 'WIDTH = 20'),
      { kind: 'error', status: 529, type: 'overloaded_error', message: 'Overloaded' },
      // Attempt 2 (Temporal's retry): a good answer.
      edit('raise LR to 0.015', 'LEARNING_RATE = 0.01', 'LEARNING_RATE = 0.015'),
    );
    await assert.rejects(proposeCandidate(input), /Anthropic API is unavailable \(529\)/);
    const candidate = await proposeCandidate(input);
    assert.equal(candidate.description, 'raise LR to 0.015');
    assert.deepEqual(
      candidate.cost,
      {
        inputTokens: 2 * 900,
        outputTokens: 2 * 150,
        cacheCreationTokens: 2 * 4000,
        cacheReadTokens: 0,
        dollars: (2 * (900 * 3 + 4000 * 3 * 2 + 150 * 15)) / 1e6,
      },
      'both paid answers, counted once each',
    );
    // A retry after the answer was saved reads the same total: nothing is counted twice.
    await git(repo, ['update-ref', '-d', 'refs/autoresearch/paid/exp/1']);
    assert.deepEqual((await proposeCandidate(input)).cost, candidate.cost);
  });

  it('with extended thinking, asks for it and lets the model choose the tool', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ar-thinking-'));
    fake.push({ ...edit('raise LR', 'LR = 1', 'LR = 2'), text: 'Let me think.' });
    const before = fake.requests.length;
    const proposal = await proposeWithClaude({
      ctx: {
        program: 'Lower the loss.',
        editable: { 'train.py': 'LR = 1\n' },
        frozen: {},
        metricName: 'val_bpb',
        direction: 'minimize',
        n: 1,
        results: [],
        notes: [],
      },
      settings: { model: 'claude-opus-5-5', maxTokens: 4096, thinkingBudget: 2048 },
      editableFiles: ['train.py'],
      check: async () => null,
      answerFile: path.join(dir, 'answer.json'),
    });
    const request = fake.requests[before]!.body;
    assert.deepEqual(request.thinking, { type: 'enabled', budget_tokens: 2048 });
    assert.deepEqual(request.tool_choice, { type: 'auto' });
    assert.equal(request.max_tokens, 4096);
    assert.deepEqual(proposal.files, { 'train.py': 'LR = 2\n' });
    assert.equal(proposal.cost.dollars, (900 * 5 + 4000 * 5 * 2 + 150 * 25) / 1e6, 'opus list prices');
  });

  it('pauses the run when the API refuses the key, and resume retries the same experiment', async () => {
    const repo = await makeFakeTarget();
    fake.push({ kind: 'error', status: 401, type: 'authentication_error', message: 'invalid x-api-key' });
    const handle = await startRun(h.client, {
      repo,
      tag: 'claude-401',
      proposer: 'claude',
      maxExperiments: 1,
      ...h.queues,
    });
    const paused = await waitFor('the run to pause itself', async () => {
      const s = await handle.query(statusQuery);
      return s.phase === 'paused' ? s : undefined;
    });
    assert.match(paused.pausedReason!, /rejected the key \(401\).*ANTHROPIC_API_KEY/);
    assert.equal(paused.experimentsDone, 1, 'the baseline is kept; nothing is lost');

    fake.push(edit('raise LR to 0.015', 'LEARNING_RATE = 0.01', 'LEARNING_RATE = 0.015'));
    await handle.signal('resume');
    const summary = (await handle.result()) as RunSummary;
    assert.equal(summary.experimentsDone, 2);
    assert.equal(summary.counts.keep, 2);
  });
});
