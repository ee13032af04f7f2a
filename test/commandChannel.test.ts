// Workflow input is not a command channel (issue 14): anyone who reaches the Temporal frontend can start
// a run, and a run's options name the command proposer's command and the secrets it may see. A worker
// runs only commands, and hands out only secrets, that its own configuration allows.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { startRun } from '../client';
import type { RunStatus, RunSummary } from '../common/types';
import { statusQuery } from '../workflows/messages';
import { spawnWorker } from './support/commandLines';
import { makeFakeTarget } from './support/fakeTarget';
import { assertRunInvariants, checkoutState } from './support/invariants';
import { startWorkers, testClient, testServer, uniqueQueues, useHarness } from './support/temporal';
import { waitFor } from './support/waitFor';

/** An edit the fake target accepts, and a description: what a real agent would leave behind. */
const EDIT =
  "sed -i 's/^WIDTH = 16 /WIDTH = 20 /' train.py && echo 'width 20' > \"$AUTORESEARCH_DESCRIPTION_FILE\"";

/** The run's status once it has paused itself, or 'ended' when it ran to its end instead. */
async function pausedOrEnded(handle: WorkflowHandle): Promise<RunStatus | 'ended'> {
  return waitFor('the run to pause itself (or end)', async () => {
    if ((await handle.describe()).status.name !== 'RUNNING') return 'ended' as const;
    const status = await handle.query(statusQuery);
    return status.phase === 'paused' ? status : undefined;
  });
}

/** Every file a run wrote (records, logs, results.tsv). */
function runFiles(repo: string, tag: string): string[] {
  const dir = path.join(repo, '.git/autoresearch/runs', tag);
  return readdirSync(dir, { recursive: true })
    .map((f) => path.join(dir, String(f)))
    .filter((f) => statSync(f).isFile());
}

describe('workflow input is not a command channel', () => {
  const h = useHarness('channel');

  it('a run cannot make the worker run a command it was not started with: the run pauses naming the fix, and the command never runs', async () => {
    const repo = await makeFakeTarget();
    const checkout = await checkoutState(repo);
    const marker = path.join(mkdtempSync(path.join(tmpdir(), 'ar-channel-')), 'pwned');
    // What someone who reaches the frontend would send: a command that takes the worker's key out
    // (here it only leaves a mark, and its environment, in a file).
    const hostile = `env > ${marker}; ${EDIT}`;
    const handle = await startRun(h.client, {
      repo,
      tag: 'channel-cmd',
      proposer: 'command',
      command: { command: hostile, timeoutSeconds: 30, passEnv: ['ANTHROPIC_API_KEY'] },
      noiseRuns: 1,
      maxExperiments: 1,
      ...h.queues,
    });
    const paused = await pausedOrEnded(handle);
    assert.equal(existsSync(marker), false, 'the command never ran');
    assert.notEqual(paused, 'ended', 'the run waits for its operator instead of ending');
    const reason = (paused as RunStatus).pausedReason ?? '';
    assert.match(reason, /this worker does not allow the command proposer's command/);
    assert.ok(reason.includes(`env > ${marker}`), `the command is named: ${reason}`);
    assert.match(reason, /start the worker with --agent-command ".*" \(or AUTORESEARCH_AGENT_COMMANDS\)/);
    assert.equal((paused as RunStatus).experimentsDone, 1, 'the baseline is kept; nothing is lost');

    await handle.signal('stop');
    const summary = (await handle.result()) as RunSummary;
    await assertRunInvariants(repo, 'channel-cmd', summary, checkout);
    assert.equal(existsSync(marker), false, 'not after stop either');
  });

  it('a run the operator started before allowing its command goes on after the worker allows it and resume', async () => {
    const repo = await makeFakeTarget();
    const handle = await startRun(h.client, {
      repo,
      tag: 'channel-late',
      proposer: 'command',
      command: { command: `true && ${EDIT}`, timeoutSeconds: 30 },
      noiseRuns: 1,
      maxExperiments: 1,
      ...h.queues,
    });
    const paused = await pausedOrEnded(handle);
    assert.notEqual(paused, 'ended', 'a command the worker does not allow pauses the run');
    // The harness's stand-in for restarting the worker with --agent-command.
    h.allowAgent(`true && ${EDIT}`);
    await handle.signal('resume');
    const summary = (await handle.result()) as RunSummary;
    assert.equal(summary.counts.keep, 2, 'the baseline and the proposal made after resume');
  });

  it('a run cannot make the worker hand its agent a secret the worker does not pass on; one it passes reaches only runs that ask', async () => {
    const seen = mkdtempSync(path.join(tmpdir(), 'ar-channel-env-'));
    const saved = { ...process.env };
    // The worker is in this process: the secrets a real worker would hold.
    Object.assign(process.env, {
      ANTHROPIC_API_KEY: 'sk-ant-channel-not-real',
      HF_TOKEN: 'hf-channel-passed',
    });
    const agent = (tag: string) => h.allowAgent(`env > "${seen}/${tag}.env"; ${EDIT}`, ['HF_TOKEN']);
    const repos: Record<string, string> = {};
    try {
      const start = async (tag: string, passEnv?: string[]) => {
        repos[tag] = await makeFakeTarget();
        return startRun(h.client, {
          repo: repos[tag],
          tag,
          proposer: 'command',
          command: { command: agent(tag), timeoutSeconds: 30, ...(passEnv ? { passEnv } : {}) },
          noiseRuns: 1,
          maxExperiments: 1,
          ...h.queues,
        });
      };
      const refused = await start('env-refused', ['HF_TOKEN', 'ANTHROPIC_API_KEY']);
      const paused = await pausedOrEnded(refused);
      assert.equal(existsSync(path.join(seen, 'env-refused.env')), false, 'the agent never ran');
      assert.notEqual(paused, 'ended', 'the run waits for its operator');
      const reason = (paused as RunStatus).pausedReason ?? '';
      assert.match(reason, /ANTHROPIC_API_KEY/);
      assert.match(reason, /start the worker with --pass-env ANTHROPIC_API_KEY \(or AUTORESEARCH_PASS_ENV\)/);
      await refused.signal('stop');
      await refused.result();

      await (await start('env-asked', ['HF_TOKEN'])).result();
      await (await start('env-not-asked')).result();
    } finally {
      for (const name of ['ANTHROPIC_API_KEY', 'HF_TOKEN'])
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
    }
    const asked = readFileSync(path.join(seen, 'env-asked.env'), 'utf8');
    assert.match(asked, /^HF_TOKEN=hf-channel-passed$/m, 'a secret the worker passes on, to a run that asks');
    assert.doesNotMatch(asked, /sk-ant-channel-not-real/);
    const notAsked = readFileSync(path.join(seen, 'env-not-asked.env'), 'utf8');
    assert.doesNotMatch(
      notAsked,
      /hf-channel-passed|sk-ant-channel-not-real/,
      'nothing to a run that did not ask',
    );
    for (const tag of Object.keys(repos))
      for (const file of runFiles(repos[tag]!, tag))
        assert.doesNotMatch(readFileSync(file, 'utf8'), /sk-ant-channel-not-real/, file);
  });
});

describe('autoresearch worker --agent-command / --pass-env', () => {
  const queues = uniqueQueues('channel-cli');
  const stops: Array<() => Promise<void>> = [];
  after(async () => {
    for (const stop of stops.reverse()) await stop();
  });

  it('a worker process runs the commands of its flags and of AUTORESEARCH_AGENT_COMMANDS, and no other', async () => {
    const address = await testServer();
    const client = await testClient(address);
    stops.push(() => client.connection.close());
    const seen = mkdtempSync(path.join(tmpdir(), 'ar-channel-cli-'));
    const byFlag = `echo flag > "${seen}/flag"; ${EDIT}`;
    const byEnv = `env > "${seen}/env"; ${EDIT}`;
    const other = `echo other > "${seen}/other"; ${EDIT}`;
    const control = spawnWorker(
      address,
      queues,
      ['ignore', 'ignore', 'inherit'],
      ['--control-only', '--agent-command', byFlag, '--pass-env', 'HF_TOKEN'],
      {
        AUTORESEARCH_AGENT_COMMANDS: `\n${byEnv}\n`,
        AUTORESEARCH_PASS_ENV: 'OPENAI_API_KEY',
        HF_TOKEN: 'hf-cli-passed',
        OPENAI_API_KEY: 'sk-openai-cli-passed',
      },
    );
    stops.push(async () => {
      if (control.exitCode === null) {
        control.kill('SIGTERM');
        await new Promise((resolve) => control.once('exit', resolve));
      }
    });
    // A worker that exits (a flag it does not know, a bad name) fails the test at once, not at a timeout.
    const exited = new Promise<never>((_, reject) =>
      control.once('exit', (code) => reject(new Error(`the worker exited (${code}) before the runs ended`))),
    );
    exited.catch(() => undefined);
    const orExit = <T>(step: Promise<T>) => Promise.race([step, exited]);
    const training = await startWorkers(address, { ...queues, control: false });
    stops.push(() => training.stop());

    const run = (tag: string, command: string, passEnv?: string[]) =>
      makeFakeTarget().then((repo) =>
        startRun(client, {
          repo,
          tag,
          proposer: 'command',
          command: { command, timeoutSeconds: 30, ...(passEnv ? { passEnv } : {}) },
          noiseRuns: 1,
          maxExperiments: 1,
          ...queues,
        }),
      );
    const flagRun = await run('cli-flag', byFlag);
    const envRun = await run('cli-env', byEnv, ['HF_TOKEN', 'OPENAI_API_KEY']);
    const otherRun = await run('cli-other', other);
    assert.equal(
      ((await orExit(flagRun.result())) as RunSummary).counts.keep,
      2,
      'the --agent-command command ran',
    );
    assert.equal(
      ((await orExit(envRun.result())) as RunSummary).counts.keep,
      2,
      'the AUTORESEARCH_AGENT_COMMANDS one too',
    );
    const env = readFileSync(path.join(seen, 'env'), 'utf8');
    assert.match(env, /^HF_TOKEN=hf-cli-passed$/m, '--pass-env');
    assert.match(env, /^OPENAI_API_KEY=sk-openai-cli-passed$/m, 'AUTORESEARCH_PASS_ENV');
    const paused = await orExit(pausedOrEnded(otherRun));
    assert.equal(existsSync(path.join(seen, 'other')), false, 'any other command never ran');
    assert.notEqual(paused, 'ended');
    await otherRun.signal('stop');
    await otherRun.result();
  });
});
