// `autoresearch status --watch`: the screen it draws, and the command following a real run to its end.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { startRun } from '../client';
import { liveViewText, progressBar } from '../cli/liveView';
import { statusText } from '../cli/render';
import type { ExperimentRecord, RunStatus } from '../common/types';
import { emptyCounts } from '../workflows/projections';
import { makeFakeTarget, makeGate } from './support/fakeTarget';
import { useHarness } from './support/temporal';
import { waitFor } from './support/waitFor';

const CLI = fileURLToPath(new URL('../bin/autoresearch.js', import.meta.url));

function record(n: number, status: ExperimentRecord['status'], metric?: number): ExperimentRecord {
  return {
    n,
    parent: 'p'.repeat(40),
    commit: 'c'.repeat(40),
    description: `idea ${n}`,
    status,
    metric,
    trainSeconds: 1,
    startedAt: 0,
    finishedAt: 1,
  };
}

const training: RunStatus = {
  tag: 'night',
  target: 'nanochat',
  phase: 'training',
  currentExperiment: 3,
  currentDescription: 'raise LR to 0.05',
  noise: null,
  keepRule: null,
  inFlight: [
    { n: 3, phase: 'training', since: 0, description: 'raise LR to 0.05' },
    { n: 4, phase: 'proposing', since: 0, description: null },
  ],
  best: { n: 2, commit: 'c'.repeat(40), metric: 0.9 },
  baselineMetric: 1,
  metricName: 'val_bpb',
  direction: 'minimize',
  experimentsDone: 3,
  counts: { ...emptyCounts(), keep: 2, crash: 1 },
  recent: [record(0, 'keep', 1), record(1, 'crash'), record(2, 'keep', 0.9)],
  paused: false,
  pausedReason: null,
  stopRequested: false,
  notes: ['focus on the optimizer'],
  queue: ['use RMSNorm'],
  spend: { inputTokens: 0, outputTokens: 0, cacheCreationTokens: 0, cacheReadTokens: 0, dollars: 0 },
  runDir: null,
  branch: 'autoresearch/night',
  maxExperiments: 9,
  deadline: null,
  phaseStartedAt: 1_000_000,
  budgetSeconds: 300,
};

describe('the live view', () => {
  it('draws the phase, a bar of elapsed time against the budget, the best and the recent results', () => {
    const text = liveViewText(training, 1_000_000 + 150_000, {
      phase: 'training',
      lastLine: 'step 120 loss 2.31',
    });
    const lines = text.split('\n');
    assert.equal(
      lines[0],
      'run night on nanochat: training, 3 of 10 experiments (2 kept, 0 discarded, 1 crashed)',
    );
    assert.match(lines[1]!, /^best val_bpb 0\.900000 at experiment 2 \(-10\.00% vs baseline 1\.000000\)$/);
    assert.equal(lines[2], 'now: experiment 3 training: raise LR to 0.05');
    assert.equal(lines[3], `  ${progressBar(0.5)} 150s / 300s budget  step 120 loss 2.31`);
    assert.equal(lines[4], 'also in flight: 4 proposing', 'the proposal made ahead is shown');
    assert.match(text, /notes: "focus on the optimizer"/);
    assert.match(text, /queued ideas: "use RMSNorm"/);
    assert.match(text, /^ +1 {2}crash +- {2}idea 1$/m);
  });

  it('shows the noise, the keep rule, and which results are means over several seeds', () => {
    const text = liveViewText(
      {
        ...training,
        best: { ...training.best!, runs: 3 },
        noise: { std: 0.0123, groups: [{ n: 0, metrics: [1, 1.01, 0.99] }], keepsSince: 0 },
        keepRule: { rule: 'noise-aware', margin: 2, confirmRuns: 2, staleAfterKeeps: 3 },
        recent: [{ ...record(2, 'keep', 0.9), runs: { metrics: [0.89, 0.9, 0.91], std: 0.01 } }],
      },
      0,
    );
    assert.match(text, /^best val_bpb 0\.900000 at experiment 2, mean of 3 seeds \(/m);
    assert.match(text, /^noise ±0\.012300; keep rule noise-aware \(gain > 2 SE, doubtful ones confirmed\)$/m);
    assert.match(text, /^ +2 {2}keep +0\.900000 {2}idea 2 \[mean of 3 seeds\]$/m);
    assert.doesNotMatch(liveViewText(training, 0), /noise/, 'nothing about noise when none was measured');
  });

  it('names only the keep rule in force: strict on a deterministic target, until the noise is measured, or when it cannot be', () => {
    const noiseAware = { rule: 'noise-aware' as const, margin: 2, confirmRuns: 2, staleAfterKeeps: 3 };
    const zero = { std: 0, groups: [{ n: 0, metrics: [0.18, 0.18, 0.18] }], keepsSince: 0 };
    const deterministic = { ...training, keepRule: noiseAware, noise: zero, noiseBy: 'repeat' as const };
    const text = statusText(deterministic);
    assert.match(text, /^noise: 0 \(3 identical runs of experiment 0\): a deterministic target$/m);
    assert.match(text, /^keep rule: strict in effect \(any better metric keeps\): the noise measured 0/m);
    assert.doesNotMatch(text, /noise-aware/);
    const live = liveViewText(deterministic, 0);
    assert.match(live, /^noise 0 \(3 identical runs\): deterministic target; keep rule strict in effect$/m);
    assert.doesNotMatch(live, /noise-aware/);
    // While the baseline's runs are still to come, and for a run whose target can never measure it.
    const waiting = statusText({ ...training, keepRule: noiseAware, noiseBy: 'repeat' });
    assert.match(waiting, /^keep rule: strict until the noise is measured, then noise-aware \(/m);
    const never = statusText({ ...training, keepRule: noiseAware, noiseBy: null });
    assert.match(
      never,
      /^keep rule: strict in effect \(any better metric keeps\): no noise can be measured, the target sets no seed/m,
    );
    assert.doesNotMatch(never, /noise-aware \(/);
    // Measured by repeats: in force, and its confirmations are repeats too.
    const repeated = statusText({
      ...training,
      keepRule: noiseAware,
      noiseBy: 'repeat',
      noise: { std: 0.01, groups: [{ n: 0, metrics: [1, 1.01, 0.99] }], keepsSince: 0 },
    });
    assert.match(
      repeated,
      /^keep rule: noise-aware in force \(a gain must exceed 2 standard errors; a smaller one trains 2 more repeats/m,
    );
  });

  it('fills the bar by elapsed / budget and never past its ends', () => {
    assert.equal(progressBar(0, 10), `[${'░'.repeat(10)}]`);
    assert.equal(progressBar(0.3, 10), `[${'█'.repeat(3)}${'░'.repeat(7)}]`);
    assert.equal(progressBar(7, 10), `[${'█'.repeat(10)}]`);
    assert.equal(progressBar(-1, 10), `[${'░'.repeat(10)}]`);
  });

  it('says why a run is paused, and shows no bar outside training', () => {
    const text = liveViewText(
      {
        ...training,
        phase: 'paused',
        paused: true,
        pausedReason: 'the API refused the key',
        currentExperiment: null,
      },
      0,
    );
    assert.doesNotMatch(text, /budget/);
    assert.match(text, /paused: the API refused the key; `autoresearch resume` continues/);
  });
});

describe('autoresearch status --watch', () => {
  const h = useHarness('watch');

  it('follows a run until it ends, printing each change (and JSON lines with --json)', async () => {
    // Each training waits at a gate until both watches have shown it: a watch on a slow machine
    // cannot miss a training that would otherwise be over before its next look.
    const gate = makeGate();
    const repo = await makeFakeTarget({ gate, timeoutSeconds: 3600 });
    gate.release(); // the baseline
    const handle = await startRun(h.client, {
      repo,
      tag: 'watched',
      maxExperiments: 2,
      noiseRuns: 1,
      ...h.queues,
    });
    const env = { ...process.env, TEMPORAL_ADDRESS: h.address };
    const plain = watch(['status', '--watch', '--tag', 'watched'], env);
    const json = watch(['status', '--watch', '--json', '--tag', 'watched'], env);
    for (const n of [1, 2]) {
      await waitFor(`both watches to show experiment ${n} training`, () =>
        plain.stdout().includes(`now: experiment ${n} training: `) &&
        json
          .stdout()
          .split('\n')
          .slice(0, -1) // the last line may be half written
          .some((line) =>
            (JSON.parse(line) as RunStatus).inFlight.some((a) => a.n === n && a.phase === 'training'),
          )
          ? true
          : undefined,
      );
      gate.release();
    }
    const out = { plain: await plain.exited, json: await json.exited };
    await handle.result();
    // In a pipe each changed screen is printed once: the experiments in flight, then the end.
    assert.match(out.plain, /now: experiment 1 training: /);
    assert.match(out.plain, /now: experiment 2 training: /);
    assert.match(out.plain, /run watched on ar-target-\w+: finished, 3 of 3 experiments/);
    assert.ok(!out.plain.includes('\u001b['), 'no terminal escapes in a pipe');
    const statuses = out.json
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as RunStatus);
    assert.ok(statuses.length >= 3, 'one JSON object per change');
    assert.equal(statuses.at(-1)!.phase, 'finished');
    assert.deepEqual(
      statuses.at(-1)!.recent.map((r) => r.n),
      [0, 1, 2],
    );
  });
});

/** The CLI running with `args`: what it printed so far, and all it printed once it exits 0. */
function watch(args: string[], env: NodeJS.ProcessEnv): { stdout: () => string; exited: Promise<string> } {
  const child = spawn(process.execPath, [CLI, ...args], { env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<string>((resolve, reject) =>
    child.on('close', (code) =>
      code === 0
        ? resolve(stdout)
        : reject(new Error(`autoresearch ${args.join(' ')} exited ${code}: ${stderr}`)),
    ),
  );
  exited.catch(() => undefined);
  return { stdout: () => stdout, exited };
}
