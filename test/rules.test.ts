// The pure rules: decisions, parsing, formats, the mutate proposer, config validation, secret scrubbing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scoreOutcome } from '../activities/evaluate';
import { seededCommand } from '../training/seededCommand';
import { extractMetricText, parseSummary } from '../training/metrics';
import { applyEdits, type FileEdit } from '../proposers/applyEdits';
import { findNumericConstants, mutate } from '../proposers/mutate/rules';
import { seededRandom } from '../proposers/mutate/seededRandom';
import { formatResultsTsv, RESULTS_HEADER } from '../store/resultsTsv';
import { isSecretName, trainingEnv } from '../training/environment';
import { AUTORESEARCH_DEFAULTS, parseConfigText, withOverrides } from '../target/config';
import type { ExperimentRecord, RunOptions, TargetConfig, TrainingOutcome } from '../common/types';
import { checkLimits, checkNote } from '../workflows/operatorInput';
import { RunState } from '../workflows/runState';

const options: RunOptions = {
  tag: 'unit',
  repo: '/nowhere',
  proposer: 'mutate',
  maxExperiments: 2,
  seed: 0,
  experimentsPerRun: 10,
  trainTaskQueue: 'gpu',
  heartbeatTimeoutSeconds: 30,
  searchAttributes: false,
};
const config: TargetConfig = { source: 'defaults', ...structuredClone(AUTORESEARCH_DEFAULTS) };

/** Claims the next number (as the workflow does when its proposal starts) and folds in its record. */
function settle(state: RunState, rec: ExperimentRecord): void {
  assert.equal(state.claim(), rec.n, 'records in these tests come in claim order');
  state.finish(rec);
}

function record(n: number, status: ExperimentRecord['status'], metric?: number): ExperimentRecord {
  return {
    n,
    parent: 'p'.repeat(40),
    commit: `${n}`.repeat(40).slice(0, 40),
    description: `exp ${n}`,
    status,
    metric,
    trainSeconds: 1,
    startedAt: 0,
    finishedAt: 1,
  };
}

describe('RunState', () => {
  const prepared = {
    branch: 'autoresearch/unit',
    baseCommit: 'b'.repeat(40),
    config,
    frozenBlobs: {},
    runDir: '/tmp/x',
  };

  it('under the noise-aware rule: the baseline measures the noise, a doubtful gain is confirmed, its runs pool in', () => {
    const state = RunState.start({
      ...options,
      keepRule: { rule: 'noise-aware', margin: 2, confirmRuns: 2, staleAfterKeeps: 3 },
    });
    state.setPrepared(prepared);
    settle(state, { ...record(0, 'keep', 1), runs: { metrics: [1, 1.01, 0.99], std: 0.01 } });
    assert.deepEqual(state.best?.runs, 3);
    assert.deepEqual(state.status().noise?.groups, [{ n: 0, metrics: [1, 1.01, 0.99] }]);
    // A gain of 0.03 on one run: short of 4 × 4.53 standard errors (2 degrees of freedom), so confirmed.
    assert.equal(state.needsConfirmation({ status: 'ok', metric: 0.97 }), true);
    // Confirmed: its own runs count (4 degrees of freedom, 2.87 SE = 0.0234), and the mean 0.97 keeps.
    const confirmed = {
      status: 'ok' as const,
      metric: 0.97,
      runs: { metrics: [0.97, 0.98, 0.96], std: 0.01 },
    };
    const decision = state.decide(confirmed);
    assert.equal(decision.status, 'keep');
    assert.match(decision.verdict!, /at 4 degrees of freedom/);
    settle(state, { ...record(1, 'keep', 0.97), runs: confirmed.runs });
    assert.deepEqual(
      state.status().noise?.groups.map((g) => g.n),
      [0, 1],
    );
    // A run carried over from before the keep rules: its baseline's runs become the first group.
    const legacy = RunState.start(options, { noise: { metrics: [1, 1.02], std: 0.0141 } } as never);
    assert.deepEqual(legacy.status().noise?.groups, [{ n: 0, metrics: [1, 1.02] }]);
  });

  it('keeps only strict improvements and moves the parent to the best', () => {
    const state = RunState.start(options);
    state.setPrepared(prepared);
    assert.equal(state.decide({ status: 'ok', metric: 1.5 }).status, 'keep');
    settle(state, record(0, 'keep', 1.5));
    assert.equal(state.decide({ status: 'ok', metric: 1.5 }).status, 'discard', 'a tie is not progress');
    assert.equal(state.decide({ status: 'ok', metric: 1.6 }).status, 'discard');
    assert.equal(state.decide({ status: 'crash', reason: 'x' }).status, 'crash');
    assert.equal(state.decide({ status: 'ok', metric: 1.4 }).status, 'keep');
    settle(state, record(1, 'keep', 1.4));
    assert.equal(state.parentCommit, record(1, 'keep').commit);
    assert.equal(state.best?.metric, 1.4);
  });

  it('maximizes when the target says so', () => {
    const state = RunState.start(options);
    state.setPrepared({
      ...prepared,
      config: { ...config, metric: { ...config.metric, direction: 'maximize' } },
    });
    settle(state, record(0, 'keep', 0.5));
    assert.equal(state.decide({ status: 'ok', metric: 0.6 }).status, 'keep');
    assert.equal(state.decide({ status: 'ok', metric: 0.4 }).status, 'discard');
  });

  it('refuses a number never claimed, and finishes once max experiments are claimed', () => {
    const state = RunState.start(options);
    state.setPrepared(prepared);
    assert.throws(() => state.finish(record(0, 'keep', 1)), /only 0 were claimed/);
    settle(state, record(0, 'keep', 1));
    assert.equal(state.claim(), 1);
    assert.equal(state.claim(), 2);
    assert.equal(state.mayClaimNumber, false, 'no number past the maximum is handed out');
    // With several slots, experiments finish in any order; each decision compares with the best then.
    state.finish(record(2, 'keep', 0.8));
    assert.equal(
      state.decide({ status: 'ok', metric: 0.9 }).status,
      'discard',
      'beaten by 2, which finished first',
    );
    state.finish(record(1, 'discard', 0.9));
    assert.equal(state.best?.n, 2);
    assert.equal(state.experimentsDone, 3);
  });

  it('tracks experiments in flight: the phase follows the one training', () => {
    const state = RunState.start({ ...options, maxExperiments: undefined });
    state.setPrepared(prepared);
    state.progress.enterPhase('proposing', 0);
    state.progress.track(state.claim(), 'training', 10, 'baseline');
    state.progress.track(state.claim(), 'proposing', 20, null);
    assert.equal(state.progress.phase, 'training');
    assert.equal(state.status().currentExperiment, 0);
    assert.equal(state.progress.phaseStartedAt, 10);
    assert.deepEqual(
      state.status().inFlight.map((a) => [a.n, a.phase]),
      [
        [0, 'training'],
        [1, 'proposing'],
      ],
    );
    state.progress.settled(0, state.paused);
    assert.equal(state.progress.phase, 'proposing');
    state.progress.settled(1, state.paused);
    assert.equal(state.progress.phase, 'proposing', 'the last phase shows until the next begins');
    assert.equal(state.status().currentExperiment, null);
    assert.throws(() => state.unclaim(0), /1 was claimed after it/);
    state.unclaim(1);
    assert.equal(state.nextExperiment, 1);
    state.progress.track(state.claim(), 'ready', 30, 'set WIDTH to 32');
    state.progress.enterPhase('paused', 40);
    assert.equal(
      state.progress.phase,
      'paused',
      'a proposal waiting for a slot is not what the run is doing',
    );
    assert.equal(state.status().inFlight[0]?.phase, 'ready');
  });

  it('shows paused once the last experiment is recorded, when the proposer gave up while it trained', () => {
    // On a slow machine the proposal made ahead refuses before the training beside it ends: the run
    // pauses first, and the record that settles afterwards must not put "recording" back as its phase.
    const state = RunState.start({ ...options, maxExperiments: undefined });
    state.setPrepared(prepared);
    state.progress.track(state.claim(), 'training', 10, 'set KNOB to 4');
    state.progress.track(state.claim(), 'proposing', 10, null);
    state.progress.settled(1, state.paused); // refused: the run pauses and says why
    state.pause('found no untried edit');
    state.progress.enterPhase('paused', 20);
    state.progress.track(0, 'evaluating', 30);
    state.progress.track(0, 'recording', 40);
    state.progress.enterPhase('paused', 40); // the slot finds the run paused, in the same workflow task
    state.progress.settled(0, state.paused);
    assert.equal(state.progress.phase, 'paused');
    assert.equal(state.status().currentExperiment, null);
  });

  it('survives a snapshot round trip (continue-as-new)', () => {
    const state = RunState.start(options);
    state.setPrepared(prepared);
    settle(state, record(0, 'keep', 2));
    state.input.addNote('try a smaller model', state.inputContext);
    state.pause();
    const again = RunState.start(options, JSON.parse(JSON.stringify(state.snapshot())));
    assert.equal(again.nextExperiment, 1);
    assert.equal(again.best?.metric, 2);
    assert.deepEqual(again.input.notes, ['try a smaller model']);
    assert.equal(again.paused, true);
  });

  it('ends cleanly at the spend limit', () => {
    const state = RunState.start({ ...options, maxExperiments: undefined, maxDollars: 0.05 });
    state.setPrepared(prepared);
    const cost = {
      inputTokens: 1000,
      outputTokens: 100,
      cacheCreationTokens: 0,
      cacheReadTokens: 0,
      dollars: 0.03,
    };
    settle(state, record(0, 'keep', 1));
    settle(state, { ...record(1, 'discard', 2), cost });
    assert.equal(state.mayClaimNumber, true);
    settle(state, { ...record(2, 'discard', 2), cost });
    assert.equal(state.mayClaimNumber, false);
    assert.equal(state.summary().reason, 'spend-limit');
    assert.equal(state.summary().spend.inputTokens, 2000);
  });

  it('rejects empty notes', () => {
    const state = RunState.start(options);
    assert.throws(() => state.input.addNote('   ', state.inputContext), /empty/);
  });

  it('queues ideas: the mutate proposer takes NAME=value only; a tried idea leaves, a cancelled one stays', () => {
    const state = RunState.start(options);
    state.setPrepared(prepared);
    settle(state, record(0, 'keep', 1));
    assert.throws(() => state.input.queueIdea('use RMSNorm', state.inputContext), /LEARNING_RATE=0\.01/);
    assert.throws(() => state.input.queueIdea(' ', state.inputContext), /empty/);
    state.input.queueIdea('LEARNING_RATE=0.02', state.inputContext);
    state.input.queueIdea('WIDTH = 32', state.inputContext);
    assert.equal(state.input.takeIdea(), 'LEARNING_RATE=0.02', 'a proposal takes the first idea');
    assert.deepEqual(state.status().queue, ['WIDTH = 32'], 'no second proposal takes it too');
    settle(state, { ...record(1, 'cancelled'), idea: 'LEARNING_RATE=0.02' });
    assert.deepEqual(
      state.status().queue,
      ['LEARNING_RATE=0.02', 'WIDTH = 32'],
      'a cancelled experiment did not try its idea',
    );
    assert.equal(state.input.takeIdea(), 'LEARNING_RATE=0.02');
    settle(state, { ...record(2, 'discard', 2), idea: 'LEARNING_RATE=0.02' });
    assert.deepEqual(state.status().queue, ['WIDTH = 32']);
    assert.equal(state.status().counts.cancelled, 1);
    const claude = RunState.start({ ...options, proposer: 'claude' });
    claude.input.queueIdea('use RMSNorm', claude.inputContext);
    assert.equal(claude.input.takeIdea(), 'use RMSNorm');
  });

  it('changes limits within reason, and ends at the deadline', () => {
    const state = RunState.start({ ...options, maxExperiments: 10 });
    state.setPrepared(prepared);
    for (let n = 0; n <= 4; n++) settle(state, record(n, n === 0 ? 'keep' : 'discard', 1));
    const now = Date.now();
    assert.throws(
      () => checkLimits({ maxExperiments: 2 }, now, state.inputContext),
      /below the 4 experiments/,
    );
    assert.throws(() => checkLimits({ maxExperiments: 1.5 }, now, state.inputContext), /whole number/);
    assert.throws(() => checkLimits({ deadline: 'tomorrow' }, now, state.inputContext), /ISO date-time/);
    assert.throws(
      () => checkLimits({ deadline: new Date(now - 1000).toISOString() }, now, state.inputContext),
      /passed/,
    );
    assert.throws(() => checkLimits({ hours: 3 }, now, state.inputContext), /not hours/);
    state.setLimits(checkLimits({ maxExperiments: 5 }, now, state.inputContext));
    assert.equal(state.mayClaimNumber, true);
    settle(state, record(5, 'discard', 1));
    assert.equal(state.mayClaimNumber, false, 'the new max holds');
    state.setLimits(checkLimits({ maxExperiments: null }, now, state.inputContext));
    assert.equal(state.mayClaimNumber, true, 'null removes the limit');
    assert.equal(state.options.maxExperiments, undefined);

    const late = RunState.start({ ...options, deadline: new Date(now - 1).toISOString() });
    assert.equal(late.mayClaimNumber, false);
    assert.equal(late.summary().reason, 'deadline');
    late.stop();
    assert.throws(() => checkNote('hello', late.inputContext), /ending/);
  });

  it('reads an older snapshot without the newer fields', () => {
    const old = JSON.parse(JSON.stringify(RunState.start(options).snapshot())) as Record<string, unknown>;
    delete old.queue;
    old.counts = { keep: 1, discard: 0, crash: 0, timeout: 0, invalid: 0 };
    const state = RunState.start(options, old);
    assert.equal(state.status().counts.cancelled, 0);
    assert.deepEqual(state.status().queue, []);
  });
});

describe('log parsing', () => {
  const log =
    'step 1\rstep 2\rstep 3\n---\nval_bpb:          1.234567\ntraining_seconds: 30.1\npeak_vram_mb:     512.0\n';
  it('reads the summary block after ---, with carriage-return progress before it', () => {
    assert.deepEqual(parseSummary(log), {
      val_bpb: '1.234567',
      training_seconds: '30.1',
      peak_vram_mb: '512.0',
    });
    assert.equal(extractMetricText(log, 'val_bpb'), '1.234567');
  });
  it('finds no metric in a crashed log, and honours a custom pattern', () => {
    assert.equal(extractMetricText('Traceback...\nValueError\n', 'val_bpb'), null);
    assert.equal(extractMetricText('eval loss=0.25 acc=0.9\n', 'loss', 'loss=([0-9.]+)'), '0.25');
  });
});

describe('scoring an outcome', () => {
  const base: TrainingOutcome = {
    exitCode: 0,
    signal: null,
    timedOut: false,
    summary: { peak_vram_mb: '2048' },
    metricText: '1.5',
    logPath: '/x.log',
    logTail: '',
    trainSeconds: 1,
    slot: 'gpu0',
    frozenModified: [],
  };
  it('scores a clean run and converts memory to GB', () => {
    assert.deepEqual(scoreOutcome(base, config), { status: 'ok', metric: 1.5, memoryGb: 2 });
  });
  it('calls out crashes, timeouts, missing and non-finite metrics', () => {
    assert.equal(scoreOutcome({ ...base, exitCode: 1 }, config).status, 'crash');
    assert.equal(scoreOutcome({ ...base, timedOut: true, exitCode: null }, config).status, 'timeout');
    assert.equal(scoreOutcome({ ...base, metricText: null }, config).status, 'crash');
    assert.equal(scoreOutcome({ ...base, metricText: 'nan' }, config).status, 'invalid');
  });
});

describe('results.tsv', () => {
  it("matches autoresearch's format exactly", () => {
    const records = [
      { ...record(1, 'crash'), description: 'tab\there', memoryGb: 3 },
      { ...record(0, 'keep', 0.9979), memoryGb: 44.0234 },
      { ...record(2, 'timeout') },
    ];
    const text = formatResultsTsv(records);
    assert.equal(
      text,
      `${RESULTS_HEADER}\n0000000\t0.997900\t44.0\tkeep\texp 0\n1111111\t0.000000\t0.0\tcrash\ttab here\n2222222\t0.000000\t0.0\tcrash\texp 2\n`,
    );
  });
  it("names the metric column after the target's metric, with memory only when the target reports it", () => {
    const records = [{ ...record(0, 'keep', 1.25) }, { ...record(1, 'crash') }];
    assert.equal(
      formatResultsTsv(records, 'val_loss'),
      'commit\tval_loss\tstatus\tdescription\n0000000\t1.250000\tkeep\texp 0\n1111111\t0.000000\tcrash\texp 1\n',
    );
    // A target that reports memory keeps the memory column, under its own metric's name.
    assert.equal(
      formatResultsTsv([{ ...record(0, 'keep', 1.25), memoryGb: 2 }], 'val_loss').split('\n')[0],
      'commit\tval_loss\tmemory_gb\tstatus\tdescription',
    );
    // karpathy's layout keeps karpathy's exact header, even before any record reports memory.
    assert.equal(RESULTS_HEADER, 'commit\tval_bpb\tmemory_gb\tstatus\tdescription');
    assert.equal(formatResultsTsv([record(0, 'crash')], 'val_bpb').split('\n')[0], RESULTS_HEADER);
    assert.equal(formatResultsTsv([record(0, 'crash')]).split('\n')[0], RESULTS_HEADER);
  });
});

describe('mutate proposer', () => {
  const source =
    'import x\nLEARNING_RATE = 3e-4  # lr\nDEPTH = 8  # layers\nSEED = 42\nname = 1\nTOTAL = 2**19\n';
  it('finds plain numeric UPPERCASE constants, not seeds or expressions', () => {
    assert.deepEqual(
      findNumericConstants(source).map((c) => c.name),
      ['LEARNING_RATE', 'DEPTH'],
    );
  });
  it('is deterministic for a seed and changes exactly one constant, keeping comments', () => {
    const a = mutate(source, seededRandom(1, 'tag', 3));
    const b = mutate(source, seededRandom(1, 'tag', 3));
    assert.ok(a);
    assert.deepEqual(a, b);
    const changed = source.split('\n').filter((line, i) => line !== a.content.split('\n')[i]);
    assert.equal(changed.length, 1);
    assert.match(a.content, /# (lr|layers)/);
    assert.match(a.description, /^(raise|lower) (LEARNING_RATE|DEPTH) /);
  });
  it('spreads over the constants across experiments', () => {
    const names = new Set<string>();
    for (let n = 1; n < 40; n++)
      names.add(mutate(source, seededRandom(0, 't', n))?.description.split(' ')[1] ?? '');
    assert.ok(names.has('LEARNING_RATE') && names.has('DEPTH'));
  });
});

describe('target config', () => {
  it('fills defaults and reads overrides', () => {
    const c = parseConfigText(
      '[train]\ncommand = "python train.py"\nbudget_seconds = 5\ntimeout_seconds = 20\n',
    );
    assert.equal(c.train.command, 'python train.py');
    assert.equal(c.metric.name, 'val_bpb');
    assert.equal(withOverrides(c, 3).train.budgetSeconds, 3);
  });
  it('names the field and the fix on bad input', () => {
    assert.throws(
      () => parseConfigText('[train]\ntimeout_seconds = "ten"\n'),
      /train\.timeout_seconds.*Known fields/,
    );
    assert.throws(() => parseConfigText('[metric]\ndirection = "down"\n'), /metric\.direction/);
    assert.throws(() => parseConfigText('[train\n'), /not valid TOML/);
    assert.throws(() => parseConfigText('[trian]\ncommand = "x"\n'), /trian/);
    assert.throws(() => parseConfigText('[metric]\npattern = "loss: [0-9.]+"\n'), /capture group/);
    assert.throws(() => parseConfigText('[files]\neditable = ["../etc/passwd"]\n'), /relative/);
    assert.throws(() => parseConfigText('[eval]\ncommand = ""\n'), /eval\.command.*uv run evaluate\.py/);
    assert.throws(() => parseConfigText('[eval]\ncmd = "x"\n'), /cmd.*\[eval\] command, timeout_seconds/);
  });
  it('reads [sandbox]: network, limits, extra paths and environment names, each checked', () => {
    assert.equal(parseConfigText('').sandbox, undefined, 'no [sandbox]: the defaults');
    const c = parseConfigText(
      '[sandbox]\nnetwork = true\nmemory_mb = 4096\nmax_file_mb = 512\nread_paths = ["/data"]\n' +
        'write_paths = ["/scratch/out"]\nenv = ["WANDB_MODE"]\n',
    );
    assert.deepEqual(c.sandbox, {
      network: true,
      memoryMb: 4096,
      maxProcesses: 4096,
      maxFileMb: 512,
      readPaths: ['/data'],
      writePaths: ['/scratch/out'],
      env: ['WANDB_MODE'],
    });
    assert.throws(
      () => parseConfigText('[sandbox]\nread_paths = ["data"]\n'),
      /sandbox\.read_paths\.0: .*absolute/,
    );
    assert.throws(
      () => parseConfigText('[sandbox]\nmax_processes = 2\n'),
      /sandbox\.max_processes: .*at least 16/,
    );
    assert.throws(() => parseConfigText('[sandbox]\nenv = ["A B"]\n'), /sandbox\.env\.0: .*variable name/);
    assert.throws(
      () => parseConfigText('[sandbox]\nenv = ["WANDB_API_KEY"]\n'),
      /sandbox\.env\.0: looks like a secret/,
    );
    assert.throws(() => parseConfigText('[sandbox]\nnet = true\n'), /net.*\[sandbox\] network, memory_mb/);
  });
  it("keeps the set-up's outputs between trainings: declared, or uv's .venv and lock for a uv target", () => {
    assert.deepEqual(AUTORESEARCH_DEFAULTS.train.setupOutputs, ['.venv', 'uv.lock']);
    assert.deepEqual(parseConfigText('').train.setupOutputs, ['.venv', 'uv.lock'], 'uv run train.py');
    const plain = '[train]\ncommand = "python3 train.py"\nsetup = []\n';
    assert.deepEqual(parseConfigText(plain).train.setupOutputs, []);
    assert.deepEqual(parseConfigText(`${plain}setup_outputs = ["venv", "data/cache"]\n`).train.setupOutputs, [
      'venv',
      'data/cache',
    ]);
    assert.throws(() => parseConfigText(`${plain}setup_outputs = ["../x"]\n`), /setup_outputs.*relative/);
  });
  it('reads how to set the seed: an environment variable or a flag, not both', () => {
    assert.equal(parseConfigText('[train]\nseed_env = "SEED"\n').train.seedEnv, 'SEED');
    assert.equal(parseConfigText('[train]\nseed_arg = "--seed"\n').train.seedArg, '--seed');
    assert.throws(
      () => parseConfigText('[train]\nseed_env = "SEED"\nseed_arg = "--seed"\n'),
      /keep one of them/,
    );
    assert.throws(() => parseConfigText('[train]\nseed_env = "MY SEED"\n'), /environment variable name/);
    assert.throws(() => parseConfigText('[train]\nseed_arg = "seed; rm -rf ~"\n'), /flag such as --seed/);
    const config = parseConfigText('[train]\ncommand = "python3 train.py"\nseed_arg = "--seed"\n');
    assert.deepEqual(seededCommand(config, 7), { command: 'python3 train.py --seed 7', env: {} });
    assert.deepEqual(seededCommand(config, undefined), { command: 'python3 train.py', env: {} });
    const byEnv = parseConfigText('[train]\nseed_env = "AUTORESEARCH_SEED"\n');
    assert.deepEqual(seededCommand(byEnv, 3).env, { AUTORESEARCH_SEED: '3' });
    assert.throws(() => seededCommand(parseConfigText(''), 3), /add seed_env = "NAME".*or seed_arg/);
    assert.throws(() => seededCommand(byEnv, -1), /whole number/);
  });

  it('reads a separate evaluation command, with a 600 s default timeout', () => {
    const c = parseConfigText('[train]\ntimeout_seconds = 90\n[eval]\ncommand = "uv run evaluate.py"\n');
    assert.deepEqual(c.eval, { command: 'uv run evaluate.py', timeoutSeconds: 600 });
    assert.equal(parseConfigText('').eval, undefined);
  });
});

describe('training environment', () => {
  it('never passes secrets, and sets budget, GPU and PATH', () => {
    const env = trainingEnv(
      {
        PATH: '/usr/bin',
        ANTHROPIC_API_KEY: 'sk-x',
        TEMPORAL_API_KEY: 'k',
        HF_TOKEN: 't',
        AWS_SECRET_ACCESS_KEY: 's',
        HOME: '/root',
      },
      { budgetSeconds: 5, gpus: '1', extraPath: ['/opt/uv'] },
    );
    assert.deepEqual(Object.keys(env).sort(), [
      'AUTORESEARCH_TIME_BUDGET',
      'CUDA_VISIBLE_DEVICES',
      'HOME',
      'PATH',
      'PYTHONUNBUFFERED',
    ]);
    assert.equal(env.PATH, '/opt/uv:/usr/bin');
    assert.equal(env.AUTORESEARCH_TIME_BUDGET, '5');
    assert.ok(isSecretName('GITHUB_TOKEN') && !isSecretName('CUDA_VISIBLE_DEVICES'));
  });
});

describe('training environment from an allowlist', () => {
  it('passes only what a training needs by name, never a secret whatever its name', () => {
    const env = trainingEnv(
      {
        PATH: '/usr/bin',
        HOME: '/root',
        LANG: 'C.UTF-8',
        LC_ALL: 'C.UTF-8',
        CUDA_HOME: '/usr/local/cuda',
        NVIDIA_VISIBLE_DEVICES: 'all',
        OMP_NUM_THREADS: '4',
        UV_PYTHON: '3.11',
        SSL_CERT_FILE: '/etc/ssl/cert.pem',
        HTTPS_PROXY: 'http://proxy:3128',
        WANDB_MODE: 'offline',
        // Not secret-looking by name, yet not for a training: an allowlist drops them, a denylist did not.
        SSH_AUTH_SOCK: '/tmp/ssh-agent.sock',
        DATABASE_URL: 'postgres://u:p@db/x',
        GH_ENTERPRISE_TOKEN_FILE: '/x',
        OPENAI_ORG: 'org-1',
        AWS_PROFILE: 'prod',
        KUBECONFIG: '/root/.kube/config',
        AUTORESEARCH_HOME: '/root/.autoresearch',
        // Secret-looking names stay out even under an allowed prefix or when the target asks.
        UV_INDEX_PASSWORD: 'p',
        CUDA_API_KEY: 'k',
        WANDB_API_KEY: 'w',
      },
      { budgetSeconds: 5 },
      ['WANDB_MODE', 'WANDB_API_KEY'],
    );
    assert.deepEqual(Object.keys(env).sort(), [
      'AUTORESEARCH_TIME_BUDGET',
      'CUDA_HOME',
      'HOME',
      'HTTPS_PROXY',
      'LANG',
      'LC_ALL',
      'NVIDIA_VISIBLE_DEVICES',
      'OMP_NUM_THREADS',
      'PATH',
      'PYTHONUNBUFFERED',
      'SSL_CERT_FILE',
      'UV_PYTHON',
      'WANDB_MODE',
    ]);
  });
});

describe('applying structured edits', () => {
  const sources = { 'train.py': 'LR = 0.1\nWD = 0.1\n' };
  it('replaces one exact, unique occurrence, or a whole file', () => {
    assert.deepEqual(
      applyEdits(
        sources,
        ['train.py'],
        [{ file: 'train.py', old_string: 'LR = 0.1', new_string: 'LR = 0.2' }],
      ),
      {
        'train.py': 'LR = 0.2\nWD = 0.1\n',
      },
    );
    assert.deepEqual(
      applyEdits(sources, ['train.py'], [{ file: 'train.py', old_string: '', new_string: 'x = 1\n' }]),
      {
        'train.py': 'x = 1\n',
      },
    );
  });
  it('explains every refusal in words the model can act on', () => {
    const refuse = (edits: FileEdit[], re: RegExp) =>
      assert.throws(() => applyEdits(sources, ['train.py'], edits), re);
    refuse([{ file: 'train.py', old_string: 'LR = 9', new_string: 'x' }], /not found.*copy it exactly/);
    refuse([{ file: 'train.py', old_string: '= 0.1', new_string: 'x' }], /more than once.*more context/);
    refuse([{ file: 'prepare.py', old_string: '', new_string: 'x' }], /not editable/);
    refuse([{ file: 'train.py', old_string: 'LR = 0.1', new_string: 'LR = 0.1' }], /change nothing/);
    refuse([], /no edits/);
  });
});
