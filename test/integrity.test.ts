// The metric cannot be gamed by the code under test: with a separate evaluation command the score comes
// from frozen code reading what training wrote, never from what train.py prints; an edit to a frozen file,
// in the candidate or at run time, is never scored.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { startRun } from '../client';
import type { RunSummary } from '../common/types';
import { makeTarget } from './support/fakeTarget';
import { assertRunInvariants, checkoutState } from './support/invariants';
import { useHarness } from './support/temporal';

/** A target whose train.py writes its loss to checkpoint.txt and claims a perfect score on stdout. */
async function targetWithEvaluation(): Promise<string> {
  const files: Record<string, string> = {
    'train.py': `LEARNING_RATE = 0.01  # learning rate
WIDTH = 16  # model width
loss = abs(LEARNING_RATE - 0.02) * 10 + abs(WIDTH - 24) / 100
with open("checkpoint.txt", "w") as f:
    f.write(repr(loss))
print("---")
print("val_bpb:          0.000001")  # what a metric-gaming script would print
print("peak_vram_mb:     1024.0")
`,
    'evaluate.py': `# frozen: the score is computed here, from what training wrote
with open("checkpoint.txt") as f:
    loss = float(f.read())
print("---")
print(f"val_bpb: {loss:.6f}")
`,
    'prepare.py': '# frozen: data\nEVAL_TOKENS = 1000\n',
    'program.md': '# program\nLower val_bpb.\n',
    '.gitignore': 'checkpoint.txt\n',
    'autoresearch.toml': `[train]
command = "python3 train.py"
setup = []
timeout_seconds = 60

[eval]
command = "python3 -I evaluate.py"
timeout_seconds = 30

[files]
editable = ["train.py"]
frozen = ["prepare.py", "evaluate.py"]
program = "program.md"
`,
  };
  return makeTarget(files, 'ar-integrity-');
}

// Sandboxed (the default), a training's write to a frozen file fails at once (read-only): a crash of its
// own doing. Without the sandbox the write happens, and the check after the training refuses to score it.
for (const sandbox of [true, false])
  describe(`integrity of the metric (${sandbox ? 'sandboxed' : 'worker --no-sandbox'})`, () => {
    const h = useHarness(`integrity-${sandbox}`, async () => ({ sandbox }));

    it('scores from the frozen evaluation, and never scores an edit to frozen files', async () => {
      const tag = sandbox ? 'integrity' : 'integrity-unsandboxed';
      const repo = await targetWithEvaluation();
      const checkout = await checkoutState(repo);
      // A stand-in agent with one idea per experiment, from honest to hostile.
      const agent = [
        'case "$AUTORESEARCH_EXPERIMENT" in',
        `1) sed -i 's/^LEARNING_RATE = 0.01 /LEARNING_RATE = 0.015 /' train.py; d="raise LR";;`,
        `2) echo 'open("evaluate.py", "w").write("print(\\"val_bpb: 0.0\\")")' >> train.py; d="rewrite the evaluation";;`,
        '3) echo "EVAL_TOKENS = 1" >> prepare.py; d="shrink the eval set";;',
        `4) echo 'import os; os.remove("checkpoint.txt")' >> train.py; d="lose the checkpoint";;`,
        'esac',
        'echo "$d" > "$AUTORESEARCH_DESCRIPTION_FILE"',
      ].join('\n');
      const handle = await startRun(h.client, {
        repo,
        tag: tag,
        proposer: 'command',
        command: { command: h.allowAgent(agent), timeoutSeconds: 30 },
        maxExperiments: 4,
        ...h.queues,
      });
      const summary = (await handle.result()) as RunSummary;
      const records = await assertRunInvariants(repo, tag, summary, checkout);
      assert.deepEqual(
        records.map((r) => [r.description, r.status]),
        [
          ['baseline', 'keep'],
          ['raise LR', 'keep'],
          ['rewrite the evaluation', sandbox ? 'crash' : 'invalid'],
          ['shrink the eval set', 'invalid'],
          ['lose the checkpoint', 'crash'],
        ],
      );
      // The evaluation's numbers, not the 0.000001 that train.py printed.
      assert.equal(records[0]!.metric, 0.18);
      assert.equal(records[1]!.metric, 0.13);
      assert.equal(records[0]!.memoryGb, 1, "the training's own summary still gives the memory");
      assert.match(
        records[2]!.reason!,
        sandbox
          ? /Read-only file system: 'evaluate\.py'/
          : /training modified frozen file\(s\): evaluate\.py/,
      );
      assert.equal(records[2]!.metric, undefined, 'never scored');
      assert.match(records[3]!.reason!, /changed prepare\.py, which is not editable/);
      assert.match(records[4]!.reason!, /evaluation failed: exit 1: FileNotFoundError/);
      assert.equal(summary.best?.n, 1);
      const runDir = path.join(repo, '.git/autoresearch/runs', tag);
      assert.ok(
        existsSync(path.join(runDir, 'logs/exp-0001.eval.log')),
        'the evaluation keeps a log of its own',
      );
    });
  });
