// The attack catalogue, evaluation part (issue 14): a hostile train.py tries to make the frozen evaluation
// print a number of its choosing. Each case runs the real train activity (real processes, real git, real
// bubblewrap) and ends with the experiment scored on what the model really is, or recorded as a crash,
// never with the forged number.
import { MockActivityEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { evaluateCandidate } from '../../activities/evaluate';
import { createTrainActivities } from '../../activities/train';
import { materializeExample } from '../../target/examples';
import { Repo } from '../../store/git';
import { slotDir } from '../../store/runDirectory';
import { ensureUv } from '../../target/pythonTools';
import { parseConfigText, withOverrides } from '../../target/config';
import { InvalidEdit, validateEdit } from '../../proposers/editGate';
import type { Evaluation, PreparedRun, TrainingOutcome } from '../../common/types';
import { makeTarget } from '../support/fakeTarget';
import { tryWrite } from '../support/hostile';
import { preparedRun } from '../support/prepared';

/** What every forgery below tries to make the evaluation print. */
const FORGED = '0.001000';
/** What the model really scores: training saves it, the frozen evaluation reads and prints it. */
const HONEST = 0.75;

/** A module that, once imported by the evaluation, prints the forged score and ends the process. */
const FORGING_MODULE = `print("---")\nprint("val_bpb: ${FORGED}")\nimport os\nos._exit(0)\n`;

/**
 * Python lines that write an unchecked hash-based pyc (PEP 552) of `module` into directory `where`: Python
 * loads such a file without comparing it to the source, so a matching mtime is not even needed.
 */
const forgePyc = (module: string, source: string, where: string) => `
import importlib.util, marshal
try:
    _code = compile(${JSON.stringify(source)}, ${JSON.stringify(`${module}.py`)}, "exec")
    _dir = ${where}
    os.makedirs(_dir, exist_ok=True)
    _pyc = os.path.join(_dir, ${JSON.stringify(module)} + "." + sys.implementation.cache_tag + ".pyc")
    with open(_pyc, "wb") as _f:
        _f.write(importlib.util.MAGIC_NUMBER + (1).to_bytes(4, "little") + bytes(8) + marshal.dumps(_code))
    print("WROTE " + _pyc)
except OSError as e:
    print("refused: " + str(e))
`;

interface SmallTargetOptions {
  /** Hostile lines train.py runs after saving its model. */
  attack: string;
  /** Whether autoresearch.toml declares `[eval] artifacts` (an older target's config does not). */
  declareArtifacts?: boolean;
}

/**
 * A small target with the shape the README recommends: train.py saves its "model" (a number) to
 * checkpoint.txt; the frozen evaluate.py, in a process of its own, loads it through the frozen prepare.py
 * (which imports json, a pure-Python module a shadow could replace) and prints val_bpb. __pycache__ is
 * ignored, as in most Python repositories.
 */
function smallTarget({ attack, declareArtifacts = true }: SmallTargetOptions): Promise<string> {
  return makeTarget({
    'train.py':
      'import os, sys\nLEARNING_RATE = 0.01  # learning rate\n' +
      `open("checkpoint.txt", "w").write("${HONEST.toFixed(6)}")\n` +
      attack +
      '\nprint("---")\nprint("training_seconds: 0.1")\n',
    'prepare.py':
      '# frozen: how a saved model is read and scored\nimport json\n\n\n' +
      'def score(text):\n    return json.loads(text)\n',
    'evaluate.py':
      '# frozen: scores checkpoint.txt in a process of its own; never imports train.py\n' +
      'import os, sys\nfrom prepare import score\n' +
      'if not os.path.exists("checkpoint.txt"):\n    sys.exit("FAIL: no checkpoint.txt: train.py must save its model")\n' +
      'print("---")\nprint(f"val_bpb: {score(open(\'checkpoint.txt\').read()):.6f}")\n',
    'program.md': '# program\nLower val_bpb.\n',
    '.gitignore': 'checkpoint.txt\n__pycache__/\n',
    'autoresearch.toml':
      '[train]\ncommand = "python3 train.py"\nsetup = []\ntimeout_seconds = 60\n' +
      '[eval]\ncommand = "python3 evaluate.py"\ntimeout_seconds = 60\n' +
      (declareArtifacts ? 'artifacts = ["checkpoint.txt"]\n' : '') +
      '[files]\neditable = ["train.py"]\nfrozen = ["prepare.py", "evaluate.py"]\nprogram = "program.md"\n',
  });
}

interface Scored {
  outcome: TrainingOutcome;
  verdict: Evaluation;
  trainLog: string;
  evalLog: string;
}

/** Trains and scores experiment `n` of `run` with the real activities, as a worker with `sandbox` would. */
async function trainAndScore(
  repo: string,
  tag: string,
  run: PreparedRun,
  options: { sandbox: boolean; n?: number; commit?: string; budgetSeconds?: number },
): Promise<Scored> {
  const { trainCandidate } = createTrainActivities({
    slot: 'gpu0',
    sandbox: options.sandbox,
    extraPath: await ensureUv(),
  });
  const config = withOverrides(run.config, options.budgetSeconds);
  const commit = options.commit ?? run.baseCommit;
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 120_000 });
  const outcome: TrainingOutcome = await env.run(trainCandidate, {
    repo,
    tag,
    n: options.n ?? 0,
    commit,
    config,
  });
  const verdict = await evaluateCandidate({ repo, commit, config, frozenBlobs: run.frozenBlobs, outcome });
  const read = (file?: string) => (file ? readFileSync(file, 'utf8') : '');
  return { outcome, verdict, trainLog: read(outcome.logPath), evalLog: read(outcome.evalLogPath) };
}

/** The experiment was scored on the real model: the honest number, never the forged one. */
function assertHonest(scored: Scored, what: string): void {
  const detail = `${what}: ${JSON.stringify(scored.verdict)}\n--- training log\n${scored.trainLog}\n--- evaluation log\n${scored.evalLog}`;
  assert.notEqual(scored.outcome.metricText, FORGED, `the forged score got through (${detail})`);
  assert.equal(scored.verdict.status, 'ok', detail);
  assert.equal(scored.verdict.metric, HONEST, detail);
}

describe('attack catalogue: the evaluation', () => {
  for (const sandbox of [true, false])
    it(`a shadow module left next to the frozen evaluation is never imported by it (sandbox ${sandbox ? 'on' : 'off'})`, async () => {
      // json.py shadows the standard library's json for any script in the worktree (the script's directory
      // comes first on sys.path); sitecustomize/usercustomize would run at interpreter start were they on it.
      const repo = await smallTarget({
        attack:
          tryWrite('"json.py"', FORGING_MODULE) +
          tryWrite('"sitecustomize.py"', FORGING_MODULE) +
          tryWrite('"usercustomize.py"', FORGING_MODULE),
      });
      const run = await preparedRun(repo, 'shadow');
      const scored = await trainAndScore(repo, 'shadow', run, { sandbox });
      assert.match(
        scored.trainLog,
        /WROTE json\.py/,
        "the attack ran: the worktree is the training's to write",
      );
      assertHonest(scored, 'shadow json.py');
    });

  it('a forged byte-code file (__pycache__/prepare.*.pyc, evaluate.*.pyc) written by training is never loaded', async () => {
    const repo = await smallTarget({
      attack:
        forgePyc('prepare', `def score(text):\n    return ${FORGED}\n`, '"__pycache__"') +
        forgePyc('evaluate', FORGING_MODULE, '"__pycache__"'),
    });
    const run = await preparedRun(repo, 'pyc');
    const scored = await trainAndScore(repo, 'pyc', run, { sandbox: true });
    assert.match(scored.trainLog, /WROTE __pycache__\/prepare\./);
    assertHonest(scored, 'forged __pycache__/prepare.pyc');
  });

  it('a forged byte-code file is not loaded even by a target that declares no artifacts (no clean before its evaluation)', async () => {
    // Without [eval] artifacts the worktree keeps what training wrote (an older config); __pycache__ is
    // ignored by git here, so only where Python looks for byte code protects the evaluation.
    const repo = await smallTarget({
      attack: forgePyc('prepare', `def score(text):\n    return ${FORGED}\n`, '"__pycache__"'),
      declareArtifacts: false,
    });
    const run = await preparedRun(repo, 'pyclegacy');
    const scored = await trainAndScore(repo, 'pyclegacy', run, { sandbox: true });
    assert.match(scored.trainLog, /WROTE __pycache__\/prepare\./);
    assertHonest(scored, 'forged pyc, no artifacts declared');
  });

  it("a forged byte-code file in the training's own byte-code cache is gone before the evaluation (sandbox off)", async () => {
    // Unsandboxed, training may write wherever Python keeps byte code for it (sys.pycache_prefix, if set);
    // the evaluation must not inherit it.
    const repo = await smallTarget({
      attack:
        'print("pycache prefix: " + str(sys.pycache_prefix))\n' +
        forgePyc(
          'prepare',
          `def score(text):\n    return ${FORGED}\n`,
          '(os.path.join(sys.pycache_prefix, os.getcwd().lstrip(os.sep)) if sys.pycache_prefix else "__pycache__")',
        ),
    });
    const run = await preparedRun(repo, 'pycprefix');
    const scored = await trainAndScore(repo, 'pycprefix', run, { sandbox: false });
    assert.match(scored.trainLog, /WROTE .*prepare\./);
    assertHonest(scored, 'forged pyc in the byte-code cache');
  });

  it('a fake metric line printed by train.py is ignored when [eval] is configured', async () => {
    const repo = await smallTarget({ attack: `print("---")\nprint("val_bpb: ${FORGED}")\n` });
    const run = await preparedRun(repo, 'fakeline');
    const scored = await trainAndScore(repo, 'fakeline', run, { sandbox: true });
    assert.match(scored.trainLog, new RegExp(`val_bpb: ${FORGED}`), 'the training did print its own score');
    assertHonest(scored, 'fake metric line');
  });

  it('a shadow module cannot be committed as part of a candidate: only the editable files may change', async () => {
    const repo = await smallTarget({ attack: '' });
    const run = await preparedRun(repo, 'commit');
    const base = { repo: await Repo.open(repo), parent: run.baseCommit };
    for (const file of ['json.py', 'sitecustomize.py', '__pycache__/prepare.cpython-311.pyc'])
      await assert.rejects(
        validateEdit(run.config, { 'train.py': 'x = 1\n', [file]: FORGING_MODULE }, base),
        (err: Error) =>
          err instanceof InvalidEdit &&
          err.message.includes(`creates ${file}, a new file, but only the editable files may change`),
      );
  });
});

describe('attack catalogue: the bundled example (tinylm) cannot be made to print its own score', () => {
  let repo = '';
  let run: PreparedRun;
  let worktree = '';

  it('rebinding what the evaluation used (evaluate_bpb, in __main__ or prepare) or writing a .pth file changes nothing', async () => {
    repo = await materializeExample(
      'tinylm',
      path.join(mkdtempSync(path.join(tmpdir(), 'ar-attack-')), 'tinylm'),
    );
    run = await preparedRun(repo, 'tinylm');
    worktree = path.join(slotDir((await Repo.open(repo)).commonDir, 'gpu0'), 'worktree');
    const honest = readFileSync(path.join(repo, 'train.py'), 'utf8');
    // The 2025 attack on an evaluation that imports train.py: rebind the scorer in the evaluation's own
    // module (a global it looks up at call time) and in prepare. Then, as a script, try to plant a .pth
    // file (run by every interpreter start) in the set-up's environment, and a shadow of json.
    const hostile =
      honest +
      `
import __main__
import prepare as _prepare
_fake = lambda *a, **k: 0.123
if __name__ != "__main__":
    __main__.evaluate_bpb = _fake
_prepare.evaluate_bpb = _fake
if __name__ == "__main__":
    import site
    for _site in site.getsitepackages():
${tryWrite(
  'os.path.join(_site, "hostile.pth")',
  'import sys; print("---"); print("val_bpb: 0.123000"); sys.exit(0)\n',
)
  .split('\n')
  .map((l) => (l ? `        ${l}` : l))
  .join('\n')}
${tryWrite('"json.py"', 'print("---"); print("val_bpb: 0.123000"); raise SystemExit(0)\n')
  .split('\n')
  .map((l) => (l ? `    ${l}` : l))
  .join('\n')}
`;
    const git = await Repo.open(repo);
    const commit = await git.commitTree(
      await git.writeTree(run.baseCommit, { 'train.py': hostile }),
      run.baseCommit,
      'rebind the evaluation',
    );
    const scored = await trainAndScore(repo, 'tinylm', run, {
      sandbox: true,
      n: 1,
      commit,
      budgetSeconds: 2,
    });
    const detail = `${JSON.stringify(scored.verdict)}\n--- training log\n${scored.trainLog}\n--- evaluation log\n${scored.evalLog}`;
    assert.match(scored.trainLog, /refused: .*hostile\.pth/, detail);
    assert.equal(scored.verdict.status, 'ok', detail);
    assert.notEqual(scored.verdict.metric, 0.123, `the forged score got through: ${detail}`);
    assert.doesNotMatch(scored.evalLog, /0\.123/, detail);
    // A real model after 2 s of training: well below the 8 bits of a uniform guess, far above 0.123.
    assert.ok(scored.verdict.metric! > 1 && scored.verdict.metric! < 8, detail);
  });

  it('a malformed checkpoint gives a clear error and a non-zero exit, never a number', async () => {
    assert.ok(worktree, 'runs after the test above, which set up the slot (its .venv)');
    const python = path.join(worktree, '.venv/bin/python');
    const checkpoint = path.join(worktree, 'checkpoint.npz');
    // Each case: Python lines (numpy as np, the honest checkpoint's arrays in `good`) that save a bad one.
    const honestSave =
      'import numpy as np\nrng = np.random.default_rng(0)\n' +
      'good = {"ctx_len": np.int64(4), "n_embd": np.int64(2), "n_hidden": np.int64(8), "n_layer": np.int64(1),\n' +
      '        "wte": rng.standard_normal((256, 2)).astype(np.float32),\n' +
      '        "w_in": rng.standard_normal((8, 8)).astype(np.float32), "b_in": np.zeros(8, np.float32),\n' +
      '        "w1_0": rng.standard_normal((8, 8)).astype(np.float32), "w2_0": np.zeros((8, 8), np.float32),\n' +
      '        "w_out": rng.standard_normal((8, 256)).astype(np.float32), "b_out": np.zeros(256, np.float32)}\n';
    const cases: Array<[string, string, RegExp]> = [
      ['a well-formed checkpoint', 'np.savez("checkpoint.npz", **good)', /^val_bpb: +\d+\.\d{6}$/m],
      ['no checkpoint', 'pass', /no checkpoint\.npz/],
      [
        'not an npz file',
        'open("checkpoint.npz", "w").write("hello")',
        /checkpoint\.npz is not a valid \.npz/,
      ],
      [
        'a pickled object',
        'good["w_in"] = np.array([object()], dtype=object)\nnp.savez("checkpoint.npz", **good)',
        /w_in.*pickle/i,
      ],
      ['a missing array', 'del good["w_out"]\nnp.savez("checkpoint.npz", **good)', /missing.*w_out/],
      [
        'a wrong shape',
        'good["w_in"] = good["w_in"][:4]\nnp.savez("checkpoint.npz", **good)',
        /w_in has shape \(4, 8\), expected \(8, 8\)/,
      ],
      [
        'integer weights',
        'good["w_out"] = good["w_out"].astype(np.int32)\nnp.savez("checkpoint.npz", **good)',
        /w_out.*float/,
      ],
      [
        'an unknown array',
        'good["extra"] = np.zeros(1)\nnp.savez("checkpoint.npz", **good)',
        /unexpected.*extra/,
      ],
      [
        'a context too long',
        'good["ctx_len"] = np.int64(1000)\nnp.savez("checkpoint.npz", **good)',
        /ctx_len/,
      ],
    ];
    for (const [what, save, expected] of cases) {
      rmSync(checkpoint, { force: true });
      await execa(python, ['-c', honestSave + save], { cwd: worktree });
      const result = await execa(python, ['evaluate.py'], { cwd: worktree, reject: false, all: true });
      if (what === 'a well-formed checkpoint') {
        assert.equal(result.exitCode, 0, `${what}: ${result.all}`);
        assert.match(result.stdout, expected, what);
        continue;
      }
      assert.notEqual(result.exitCode, 0, `${what}: exit 0 with ${result.all}`);
      assert.doesNotMatch(result.stdout, /val_bpb:/, `${what}: printed a score`);
      assert.match(result.all ?? '', expected, `${what}: ${result.all}`);
    }
    rmSync(checkpoint, { force: true });
  });

  it('a training that saves a malformed checkpoint is recorded as a crash, with the reason', async () => {
    assert.ok(worktree, 'runs after the tests above');
    const honest = readFileSync(path.join(repo, 'train.py'), 'utf8');
    const git = await Repo.open(repo);
    const broken = honest.replace(
      /\nif __name__ == "__main__":\n {4}main\(\)\n?$/,
      '\nif __name__ == "__main__":\n    main()\n    np.savez(CHECKPOINT, w_in=np.zeros(3))\n',
    );
    assert.notEqual(broken, honest, 'train.py ends with the usual main() call');
    const commit = await git.commitTree(
      await git.writeTree(run.baseCommit, { 'train.py': broken }),
      run.baseCommit,
      'save a broken checkpoint',
    );
    const scored = await trainAndScore(repo, 'tinylm', run, {
      sandbox: true,
      n: 2,
      commit,
      budgetSeconds: 1,
    });
    assert.equal(scored.verdict.status, 'crash', JSON.stringify(scored.verdict));
    assert.match(scored.verdict.reason ?? '', /evaluation failed: exit 1: .*checkpoint\.npz/);
  });
});

describe('[eval] artifacts in autoresearch.toml', () => {
  const config = (artifacts: string) =>
    parseConfigText(`[eval]\ncommand = "python3 evaluate.py"\nartifacts = ${artifacts}\n`);

  it('are plain relative paths kept for the evaluation', () => {
    assert.deepEqual(config('["checkpoint.npz", "out/model.bin"]').eval?.artifacts, [
      'checkpoint.npz',
      'out/model.bin',
    ]);
    assert.equal(parseConfigText('[eval]\ncommand = "python3 evaluate.py"\n').eval?.artifacts, undefined);
  });

  it('refuse absolute paths, "..", wildcards and git\'s own directory, naming the field', () => {
    for (const bad of ['"/tmp/x"', '"../x"', '"*.npz"', '".git/x"'])
      assert.throws(
        () => config(`[${bad}]`),
        /eval\.artifacts\.0: must be a plain path relative to the repository root/,
      );
    assert.throws(
      () => config('"checkpoint.npz"'),
      /eval\.artifacts: .*Known fields: .*\[eval\] command, timeout_seconds, artifacts/,
    );
  });

  it('refuse a file of [files]: an artifact is what the training writes, not a file of the repository', () => {
    assert.throws(
      () =>
        parseConfigText(
          '[eval]\ncommand = "python3 evaluate.py"\nartifacts = ["model.bin", "train.py"]\n' +
            '[files]\neditable = ["train.py"]\nfrozen = ["evaluate.py"]\n',
        ),
      /eval\.artifacts names train\.py, a file of \[files\]: artifacts are what the training writes .*remove it from eval\.artifacts/,
    );
  });
});
