// The command proposer: a coding-agent CLI (here a shell script standing in for one) edits a worktree
// of the parent, given the rendered prompt; its changes pass the same gate as any other edit.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { startRun } from '../client';
import { proposeCandidate, type ProposeInput } from '../activities/propose';
import { killGroup } from '../training/runSupervised';
import type { Candidate, RunSummary } from '../common/types';
import { statusQuery } from '../workflows/messages';
import { git, makeFakeTarget } from './support/fakeTarget';
import { assertRunInvariants, checkoutState } from './support/invariants';
import { groupOf, runningInGroup } from './support/processes';
import { preparedRun, proposalInput } from './support/prepared';
import { useHarness } from './support/temporal';
import { waitFor } from './support/waitFor';
import { readRecords } from '../store/runDirectory';

/**
 * A slow coding agent: each start appends "<pid> <cwd>" to `dir`/starts; the first one then works
 * "forever" (it sleeps far longer than any test waits), the later ones edit train.py once `dir`/go exists.
 */
function slowAgent(dir: string): string {
  const script = path.join(dir, 'agent.sh');
  writeFileSync(
    script,
    [
      `echo "$$ $(pwd)" >> "${dir}/starts"`,
      `if [ "$(wc -l < "${dir}/starts")" -eq 1 ]; then sleep 3000; exit 1; fi`,
      `while [ ! -e "${dir}/go" ]; do sleep 0.1; done`,
      "sed -i 's/^LEARNING_RATE = 0.01 /LEARNING_RATE = 0.015 /' train.py",
      'echo "raise LR to 0.015" > "$AUTORESEARCH_DESCRIPTION_FILE"',
      '',
    ].join('\n'),
  );
  return `bash ${script}`;
}

/** The agents started so far: pid and working directory, in order. */
function agentStarts(dir: string): Array<{ pid: number; cwd: string }> {
  if (!existsSync(path.join(dir, 'starts'))) return [];
  return readFileSync(path.join(dir, 'starts'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => ({ pid: Number(line.split(' ')[0]), cwd: line.slice(line.indexOf(' ') + 1) }));
}

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
      command: { command: h.allowAgent(agent), timeoutSeconds: 30 },
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
      command: { command: h.allowAgent('echo "EVAL_TOKENS = 1" >> prepare.py'), timeoutSeconds: 30 },
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
      command: { command: h.allowAgent(agent), timeoutSeconds: 30 },
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
          command: {
            command: h.allowAgent(agent, ['ANTHROPIC_API_KEY']),
            timeoutSeconds: 30,
            passEnv: passEnv ? [...passEnv] : undefined,
          },
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

  it('pause --now reaches a slow agent: its whole process group is killed; the propose step follows --proposer-timeout', async () => {
    const repo = await makeFakeTarget();
    const dir = mkdtempSync(path.join(tmpdir(), 'ar-slow-agent-'));
    const handle = await startRun(h.client, {
      repo,
      tag: 'cmd-pause-now',
      pipeline: false,
      noiseRuns: 1,
      proposer: 'command',
      // Longer than the 5 minutes every other control step has.
      command: { command: h.allowAgent(slowAgent(dir)), timeoutSeconds: 700 },
      // Experiment 1 is recorded as cancelled; experiment 2 is proposed after resume.
      maxExperiments: 2,
      // Cancellation reaches an activity with its heartbeats: keep them frequent.
      heartbeatTimeoutSeconds: 5,
      ...h.queues,
    });
    const first = await waitFor('the agent to start', () => agentStarts(dir)[0]);
    const group = groupOf(first.pid);
    assert.ok(group, 'the agent runs');
    try {
      // The proposal step's own timeout is the proposer's, not the 5 minutes of the other control steps.
      const scheduled = ((await handle.fetchHistory()).events ?? [])
        .map((e) => e.activityTaskScheduledEventAttributes)
        .filter((a) => a?.activityType?.name === 'proposeCandidate');
      assert.equal(scheduled.length, 1);
      assert.ok(Number(scheduled[0]!.startToCloseTimeout!.seconds) > 700, 'start-to-close > 700 s');

      await handle.signal('pause', { now: true });
      await waitFor('the run to pause', async () =>
        (await handle.query(statusQuery)).phase === 'paused' ? true : undefined,
      );
      // Waited for, not assumed: SIGKILL takes effect a moment after it is sent (the agent would sleep
      // on for 50 minutes).
      await waitFor("the agent's whole process group to be gone", () =>
        runningInGroup(group).length === 0 ? true : undefined,
      );
    } finally {
      // Whatever happened, no agent of this test is left waiting (the code before the fix left it running).
      killGroup(group, 'SIGKILL');
      writeFileSync(path.join(dir, 'go'), '');
    }
    // On resume the proposal is asked again, and trains.
    await handle.signal('resume');
    const summary = (await handle.result()) as RunSummary;
    assert.equal(summary.counts.keep, 2, 'the baseline and the proposal made after resume');
    assert.equal(agentStarts(dir).length, 2, 'one agent per proposal');
  });

  it('a retry never runs beside a live attempt: the earlier agent is killed first, each has its own worktree', async () => {
    const repo = await makeFakeTarget();
    const dir = mkdtempSync(path.join(tmpdir(), 'ar-retry-agent-'));
    const run = await preparedRun(repo, 'retry');
    const agent = slowAgent(dir);
    const input = proposalInput(repo, 'retry', run, {
      proposer: 'command',
      command: { command: agent, timeoutSeconds: 700 },
    });
    // The activity as a worker started with --agent-command <agent> runs it.
    const propose = (i: ProposeInput) => proposeCandidate(i, { commands: [agent], passEnv: [] });
    // Attempt 1's agent works on while Temporal has given up on it (a start-to-close or heartbeat
    // timeout seen by the server, a network partition): Temporal starts attempt 2.
    const first = new MockActivityEnvironment({ attempt: 1 }).run(propose, input);
    const settled = first.then(
      () => true,
      () => true,
    );
    let group: number | null = null;
    try {
      const one = await waitFor('attempt 1 to start its agent', () => agentStarts(dir)[0]);
      group = groupOf(one.pid);
      assert.ok(group, 'attempt 1 runs its agent');
      const second = new MockActivityEnvironment({ attempt: 2 }).run(propose, input);
      const [, two] = await waitFor(
        'attempt 2 to start its agent',
        () => agentStarts(dir)[1] && agentStarts(dir),
      );
      assert.deepEqual(runningInGroup(group), [], "attempt 1's agent was dead before attempt 2's started");
      assert.notEqual(two!.cwd, one.cwd, 'a worktree per attempt');
      // Attempt 1 ends (its agent killed) and cleans up after itself, not after attempt 2.
      await settled;
      assert.ok(
        existsSync(path.join(two!.cwd, 'train.py')),
        "attempt 2's worktree outlives attempt 1's clean-up",
      );
      writeFileSync(path.join(dir, 'go'), '');
      const candidate = (await second) as Candidate;
      assert.equal(candidate.invalid, undefined);
      assert.match(await git(repo, ['show', `${candidate.commit}:train.py`]), /^LEARNING_RATE = 0\.015 /m);
      assert.equal(existsSync(two!.cwd), false, "attempt 2's worktree is removed once it is done");
      assert.deepEqual(readdirSync(path.dirname(two!.cwd)), [], "and so is attempt 1's");
      assert.equal(
        existsSync(path.join(run.runDir, 'proposals', 'exp-0001.attempts')),
        false,
        'no pid file left',
      );
    } finally {
      // On the code before the fix attempt 1's agent would sleep on: end it here, whatever happened.
      if (group) killGroup(group, 'SIGKILL');
      writeFileSync(path.join(dir, 'go'), '');
      await settled;
    }
  });

  it('runs the agent at a lower CPU priority than the trainings (nice 10): a busy machine starts its trainings first', async () => {
    const repo = await makeFakeTarget();
    const dir = mkdtempSync(path.join(tmpdir(), 'ar-nice-agent-'));
    const run = await preparedRun(repo, 'nice');
    const agent = `nice > "${dir}/niceness"; sed -i 's/^WIDTH = 16 /WIDTH = 20 /' train.py`;
    const input = proposalInput(repo, 'nice', run, {
      proposer: 'command',
      command: { command: agent, timeoutSeconds: 30 },
    });
    await new MockActivityEnvironment().run(
      (i: ProposeInput) => proposeCandidate(i, { commands: [agent], passEnv: [] }),
      input,
    );
    assert.equal(Number(readFileSync(path.join(dir, 'niceness'), 'utf8')), Math.min(19, getPriority() + 10));
  });
});
