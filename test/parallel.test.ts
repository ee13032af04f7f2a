// Several slots and pipelined proposals on a real server: experiments overlap on separate slots (never
// two in one slot), proposals are made while training runs, a proposal made on an older best is rebased
// onto the new one, and every decision compares against the best when it is made.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { rebaseCandidate } from '../activities/rebase';
import { recordExperiment } from '../activities/record';
import { triedTrees } from '../proposers/editGate';
import { Repo } from '../store/git';
import { startRun } from '../client';
import type { RunSummary } from '../common/types';
import { trainingSlots } from '../worker';
import { git, makeFakeTarget, makeTarget, signalsDir, signalsSandboxToml } from './support/fakeTarget';
import { assertRunInvariants, checkoutState } from './support/invariants';
import { useHarness } from './support/temporal';

/**
 * A target whose train.py logs when it ran and where (its slot's worktree) to a ledger outside the repo.
 * Each training first appends a `started` line: its number in start order (the baseline's is 0) is the
 * count of those before it. `wait` is Python run next (with `me`, that number): a training waits there
 * for what the test must see overlap with it, so no verdict depends on how fast the machine is.
 */
async function ledgerTarget(sleepSeconds: number, wait = ''): Promise<{ repo: string; ledger: string }> {
  const ledger = path.join(mkdtempSync(path.join(signalsDir(), 'ledger-')), 'trainings.tsv');
  const train = `import os, time
LEARNING_RATE = 0.01  # learning rate
WIDTH = 16  # model width
start = time.time()
# Not the pid: each sandboxed training has a PID namespace of its own, where pids repeat.
token = os.urandom(8).hex()
ledger = ${JSON.stringify(ledger)}
def lines(kind):
    with open(ledger) as f:
        return [l.split("\\t") for l in f.read().splitlines() if l.startswith(kind + "\\t")]
with open(ledger, "a") as f:
    f.write(f"started\\t{token}\\t{start}\\n")
me = [l[1] for l in lines("started")].index(token)
${wait}
time.sleep(${sleepSeconds})
loss = abs(LEARNING_RATE - 0.02) * 10 + abs(WIDTH - 24) / 100
with open(${JSON.stringify(ledger)}, "a") as f:
    f.write(f"train\\t{start}\\t{time.time()}\\t{os.getcwd()}\\t{os.environ.get('CUDA_VISIBLE_DEVICES')}\\n")
print("---")
print(f"val_bpb:          {loss:.6f}")
`;
  const repo = await makeTarget({
    'train.py': train,
    'prepare.py': '# frozen\n',
    'program.md': '# program\n',
    // A hard timeout far above any wait below: only a scheduler that never overlaps them reaches it.
    'autoresearch.toml':
      '[train]\ncommand = "python3 train.py"\nsetup = []\ntimeout_seconds = 600\n' + signalsSandboxToml(),
  });
  return { repo, ledger };
}

interface Span {
  start: number;
  end: number;
  where: string;
  /** The GPUs the training was pinned to (CUDA_VISIBLE_DEVICES). */
  gpus?: string;
}

function spans(ledger: string, kind: string): Span[] {
  return readFileSync(ledger, 'utf8')
    .trim()
    .split('\n')
    .map((line) => line.split('\t'))
    .filter((f) => f[0] === kind)
    .map(([, start, end, where, gpus]) => ({ start: Number(start), end: Number(end), where: where!, gpus }));
}

/** Candidate `n` of run `tag`: `parent` with one replacement in train.py, under its `exp/<n>` ref. */
async function candidateEditing(
  repo: string,
  tag: string,
  parent: string,
  from: string,
  to: string,
  n: number,
): Promise<string> {
  await git(repo, ['checkout', '-q', '--detach', parent]);
  const text = readFileSync(path.join(repo, 'train.py'), 'utf8');
  writeFileSync(path.join(repo, 'train.py'), text.replace(from, to));
  await git(repo, ['commit', '-qam', `set ${to}`]);
  const commit = await git(repo, ['rev-parse', 'HEAD']);
  await git(repo, ['update-ref', `refs/autoresearch/${tag}/exp/${n}`, commit]);
  return commit;
}

/** The most spans running at one moment. */
function mostAtOnce(all: Span[]): number {
  return Math.max(...all.map((s) => all.filter((o) => o.start <= s.start && s.start < o.end).length));
}

describe('parallel slots', () => {
  // Three "GPUs": one slot each, pinned (the CPU training ignores the variable, but sees it).
  const h = useHarness('parallel', async () => ({ gpus: '0,1,2' }));

  it('keeps up to --parallel experiments in flight, one per slot, and decides against the best of the moment', async () => {
    // The first three trainings after the baseline wait until all three have started: three at once
    // whatever the machine's speed (a scheduler that does not overlap them would hit the hard timeout).
    const { repo, ledger } = await ledgerTarget(
      1.5,
      'while 1 <= me <= 3 and len(lines("started")) < 4:\n    time.sleep(0.05)',
    );
    const checkout = await checkoutState(repo);
    const handle = await startRun(h.client, {
      repo,
      tag: 'par',
      maxExperiments: 9,
      seed: 5,
      parallel: 3,
      // One baseline training: the barrier above counts trainings in the order they start, and the
      // baseline's repeats (this target sets no seed) would wait at it for experiments that start after them.
      noiseRuns: 1,
      ...h.queues,
    });
    const summary = (await handle.result()) as RunSummary;
    const records = await assertRunInvariants(repo, 'par', summary, checkout);
    assert.equal(records.length, 10);

    const trainings = spans(ledger, 'train');
    // Each experiment trained once (noiseRuns 1: the baseline too).
    assert.equal(trainings.length, records.filter((r) => r.trainSeconds > 0).length);
    assert.equal(mostAtOnce(trainings), 3, 'three trainings at once, never more');
    const slots = new Set(trainings.map((t) => t.where));
    assert.ok(slots.size <= 3 && slots.size >= 2, `trainings ran in ${[...slots].join(', ')}`);
    for (const slot of slots)
      assert.equal(
        mostAtOnce(trainings.filter((t) => t.where === slot)),
        1,
        `one training at a time in ${slot}`,
      );
    // Each slot is pinned to its own GPU, and every training in it saw that GPU alone.
    const pinned = [...slots].map((slot) => [
      ...new Set(trainings.filter((t) => t.where === slot).map((t) => t.gpus)),
    ]);
    for (const gpus of pinned) assert.equal(gpus.length, 1, `one GPU per slot: ${gpus.join(', ')}`);
    assert.equal(new Set(pinned.flat()).size, slots.size, 'no GPU shared by two slots');
    assert.ok(
      pinned.flat().every((g) => ['0', '1', '2'].includes(g!)),
      pinned.join(' '),
    );

    // Each decision compared with the best when it was made: replayed in decision order, every keep
    // beats the running best and every discard does not.
    const decided = [...records].sort((a, b) => a.finishedAt - b.finishedAt || a.n - b.n);
    let best = Infinity;
    for (const r of decided) {
      if (r.status === 'keep') {
        assert.ok(r.metric! < best, `exp ${r.n} kept with ${r.metric} though the best was ${best}`);
        best = r.metric!;
      } else if (r.status === 'discard')
        assert.ok(r.metric! >= best, `exp ${r.n} discarded ${r.metric} < ${best}`);
    }
    assert.equal(summary.best?.metric, best);
  });

  it('pipelines: the next proposal is made while training runs, and a stale one is rebased onto the new best', async () => {
    // Training n (n < 5, the last) ends only once proposal n + 1 has begun, and that proposal begins only
    // once training n has: each overlaps the next proposal whatever the machine's speed (one step after
    // the other, training n would wait for a proposal that never comes, up to its hard timeout).
    const { repo, ledger } = await ledgerTarget(
      1.5,
      'while me < 5 and str(me + 1) not in [l[3] for l in lines("propose-start")]:\n    time.sleep(0.05)',
    );
    const checkout = await checkoutState(repo);
    // A proposer that takes a while and logs when it ran. Odd experiments set LEARNING_RATE, even ones
    // WIDTH, each closer to the optimum than the last: every experiment improves on the one before, and
    // a proposal made on the best before last touches a line the last keep did not (it rebases cleanly).
    const script = [
      'import os, re, sys, time',
      'n = int(sys.argv[1])',
      `ledger = ${JSON.stringify(ledger)}`,
      // Proposal n waits until training n - 1 (the n-th in start order) has begun, then says so.
      'started = lambda: [l for l in open(ledger).read().splitlines() if l.startswith("started\\t")] if os.path.exists(ledger) else []',
      'while len(started()) < n: time.sleep(0.05)',
      'start = time.time()',
      'open(ledger, "a").write("propose-start\\t%f\\t%f\\t%d\\n" % (start, start, n))',
      'time.sleep(0.5); t = open("train.py").read()',
      'name, value = ("LEARNING_RATE", "%.3f" % (0.01 + 0.001 * (n + 1))) if n % 2 else ("WIDTH", str(16 + n // 2))',
      't = re.sub(name + r" = [0-9.]+", name + " = " + value, t); open("train.py", "w").write(t)',
      'open(sys.argv[2], "w").write("set %s to %s" % (name, value))',
      `open(${JSON.stringify(ledger)}, "a").write("propose\\t%f\\t%f\\t%d\\n" % (start, time.time(), n))`,
    ].join('\n');
    const proposer = path.join(path.dirname(ledger), 'propose.py');
    writeFileSync(proposer, script);
    const propose = `python3 ${proposer} "$AUTORESEARCH_EXPERIMENT" "$AUTORESEARCH_DESCRIPTION_FILE"`;
    const handle = await startRun(h.client, {
      repo,
      tag: 'pipe',
      maxExperiments: 5,
      proposer: 'command',
      command: { command: h.allowAgent(propose), timeoutSeconds: 60 },
      noiseRuns: 1, // the handshake counts trainings: the baseline trains once
      ...h.queues,
    });
    const summary = (await handle.result()) as RunSummary;
    const records = await assertRunInvariants(repo, 'pipe', summary, checkout);

    const trainings = spans(ledger, 'train').sort((a, b) => a.start - b.start);
    const proposals = spans(ledger, 'propose');
    // Proposal n+1 overlaps training n: the proposer ran while the slot trained (every training but the last).
    const overlapped = trainings.filter((t) => proposals.some((p) => p.start > t.start && p.start < t.end));
    assert.equal(
      overlapped.length,
      trainings.length - 1,
      `proposals overlapped ${overlapped.length} of ${trainings.length} trainings`,
    );

    // Every proposal made during a training was made on a best that the training then replaced: each
    // was rebased onto the new best (cleanly: no stale proposal), and trained on the best of its time.
    assert.deepEqual(
      records.map((r) => r.status),
      ['keep', 'keep', 'keep', 'keep', 'keep', 'keep'],
    );
    for (const r of records.slice(1))
      assert.equal(r.parent, records[r.n - 1]!.commit, `exp ${r.n} trained on exp ${r.n - 1}, the best then`);
    const history = await handle.fetchHistory();
    const rebases = (history.events ?? []).filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'rebaseCandidate',
    );
    assert.equal(rebases.length, 4, 'experiments 2 to 5 were proposed on the best before last');
    // Each was rebased ahead, onto the candidate in training before it was kept: no rebase between trainings.
    for (const e of rebases) {
      const input = JSON.parse(
        Buffer.from(e.activityTaskScheduledEventAttributes!.input!.payloads![0]!.data!).toString(),
      ) as { speculative?: boolean };
      assert.equal(input.speculative, true, 'rebased ahead');
    }
    assert.equal(await git(repo, ['for-each-ref', 'refs/autoresearch/pipe/speculative']), '', 'all settled');
    for (const r of records)
      assert.equal(await git(repo, ['rev-parse', `refs/autoresearch/pipe/exp/${r.n}`]), r.commit);
    assert.equal(await git(repo, ['for-each-ref', 'refs/autoresearch/pipe/stale']), '');
    assert.equal(proposals.length, 5, 'no proposal was made twice');
    // The rebased candidate holds both edits: its own and the new best's.
    const last = await git(repo, ['show', `${records[5]!.commit}:train.py`]);
    assert.match(last, /LEARNING_RATE = 0\.016/);
    assert.match(last, /WIDTH = 18/);
  });

  it('rebases a candidate onto a newer best: neighbouring lines carry over, the same line is stale', async () => {
    const repo = await makeFakeTarget();
    const base = await git(repo, ['rev-parse', 'HEAD']);
    const commitWith = (parent: string, from: string, to: string, n: number) =>
      candidateEditing(repo, 'rb', parent, from, to, n);
    const best = await commitWith(base, 'WIDTH = 16', 'WIDTH = 20', 1);
    const neighbour = await commitWith(base, 'LEARNING_RATE = 0.01', 'LEARNING_RATE = 0.03', 2);
    const sameLine = await commitWith(base, 'WIDTH = 16', 'WIDTH = 32', 3);
    const sameEdit = await commitWith(base, 'WIDTH = 16', 'WIDTH = 20', 4);
    await git(repo, ['checkout', '-q', 'main']);
    const input = { repo, tag: 'rb', parent: base, onto: best };

    const rebased = await rebaseCandidate({ ...input, n: 2, commit: neighbour });
    assert.ok('commit' in rebased);
    const text = await git(repo, ['show', `${rebased.commit}:train.py`]);
    assert.match(text, /LEARNING_RATE = 0\.03/);
    assert.match(text, /WIDTH = 20/);
    assert.equal(await git(repo, ['rev-parse', `${rebased.commit}^`]), best);
    assert.equal(await git(repo, ['rev-parse', 'refs/autoresearch/rb/exp/2']), rebased.commit);
    assert.deepEqual(
      await rebaseCandidate({ ...input, n: 2, commit: neighbour }),
      rebased,
      'a retry finds it done',
    );

    const conflict = await rebaseCandidate({ ...input, n: 3, commit: sameLine });
    assert.ok('stale' in conflict && /conflicts with the new best/.test(conflict.stale));
    assert.equal(await git(repo, ['rev-parse', 'refs/autoresearch/rb/stale/3']), sameLine, 'kept reachable');
    assert.equal(await git(repo, ['for-each-ref', 'refs/autoresearch/rb/exp/3']), '', 'out of the way');
    assert.ok(
      'stale' in (await rebaseCandidate({ ...input, n: 3, commit: sameLine })),
      'a retry finds it stale',
    );

    const already = await rebaseCandidate({ ...input, n: 4, commit: sameEdit });
    assert.ok('stale' in already && /already has its edit/.test(already.stale));
  });

  it("rebases onto a best that moved to a sibling of its parent: only its own edit is replayed, not its parent's", async () => {
    // Two candidates on one best can both be kept in turn: the best then moves from the first to the
    // second, which lacks the first's edit. A proposal made on the first carries only its own edit over
    // (git's merge base of the two would be their grandparent, and would carry the first's edit too).
    const repo = await makeFakeTarget();
    const base = await git(repo, ['rev-parse', 'HEAD']);
    const edit = (parent: string, from: string, to: string, n: number) =>
      candidateEditing(repo, 'sib', parent, from, to, n);
    // Candidate n (proposed on `parent`) rebased onto `onto`: its train.py there.
    const replayed = async (n: number, commit: string, parent: string, onto: string) => {
      await git(repo, ['checkout', '-q', 'main']);
      const rebased = await rebaseCandidate({ repo, tag: 'sib', n, commit, parent, onto });
      assert.ok('commit' in rebased, JSON.stringify(rebased));
      return git(repo, ['show', `${rebased.commit}:train.py`]);
    };
    const first = await edit(base, 'WIDTH = 16', 'WIDTH = 20', 1);
    const second = await edit(base, '1536.0', '1024.0', 2);
    const text = await replayed(3, await edit(first, 'print()', 'print("done")', 3), first, second);
    assert.match(text, /print\("done"\)/, 'its own edit');
    assert.match(text, /peak_vram_mb: +1024\.0/, "the new best's edit");
    assert.match(text, /WIDTH = 16/, "not its parent's edit, which the new best does not have");

    // Onto a best that descends from its parent, edits far apart merge in one git process.
    const later = await edit(first, '1536.0', '2048.0', 4);
    const merged = await replayed(5, await edit(first, 'print()', 'print("next")', 5), first, later);
    assert.match(merged, /print\("next"\)/);
    assert.match(merged, /peak_vram_mb: +2048\.0/);
    assert.match(merged, /WIDTH = 20/, "the parent's edit, which the new best has");
  });

  it('rebases ahead onto a candidate in training: exp/<n> stays until the record step moves it, and counts as tried', async () => {
    const repo = await makeFakeTarget();
    const base = await git(repo, ['rev-parse', 'HEAD']);
    const commitWith = (from: string, to: string, n: number) =>
      candidateEditing(repo, 'ra', base, from, to, n);
    const training = await commitWith('WIDTH = 16', 'WIDTH = 20', 1);
    const waiting = await commitWith('LEARNING_RATE = 0.01', 'LEARNING_RATE = 0.03', 2);
    await git(repo, ['checkout', '-q', 'main']);
    const input = { repo, tag: 'ra', n: 2, commit: waiting, parent: base, onto: training, speculative: true };

    const ahead = await rebaseCandidate(input);
    assert.ok('commit' in ahead);
    assert.equal(await git(repo, ['rev-parse', `${ahead.commit}^`]), training);
    assert.equal(await git(repo, ['rev-parse', 'refs/autoresearch/ra/speculative/2']), ahead.commit);
    assert.equal(await git(repo, ['rev-parse', 'refs/autoresearch/ra/exp/2']), waiting, 'exp/2 untouched');
    assert.deepEqual(await rebaseCandidate(input), ahead, 'a retry finds it done');
    const tree = await git(repo, ['rev-parse', `${ahead.commit}^{tree}`]);
    assert.ok((await triedTrees(await Repo.open(repo), { tag: 'ra', parent: base })).has(tree), 'tried');

    // Experiment 1 kept: experiment 2 trains the commit made ahead; its record step moves exp/2 there.
    const runDir = mkdtempSync(path.join(signalsDir(), 'ra-run-'));
    const record = {
      n: 2,
      parent: training,
      commit: ahead.commit,
      description: 'set LEARNING_RATE',
      status: 'discard' as const,
      metric: 1,
      trainSeconds: 1,
      startedAt: 0,
      finishedAt: 1,
    };
    const recordInput = {
      repo,
      tag: 'ra',
      runDir,
      branch: 'autoresearch/ra',
      record,
      previousBest: training,
      speculation: { proposed: waiting },
    };
    await recordExperiment(recordInput);
    await recordExperiment(recordInput); // a retry
    assert.equal(await git(repo, ['rev-parse', 'refs/autoresearch/ra/exp/2']), ahead.commit);
    assert.equal(await git(repo, ['for-each-ref', 'refs/autoresearch/ra/speculative']), '');

    // Experiment 1 discarded: experiment 3 trains as proposed; the unused commit made ahead is dropped.
    const third = await commitWith('WIDTH = 16', 'WIDTH = 12', 3);
    await git(repo, ['checkout', '-q', 'main']);
    const unused = await rebaseCandidate({ ...input, n: 3, commit: third, onto: waiting });
    assert.ok('commit' in unused);
    await recordExperiment({
      ...recordInput,
      record: { ...record, n: 3, parent: base, commit: third },
      speculation: { proposed: third },
    });
    assert.equal(await git(repo, ['rev-parse', 'refs/autoresearch/ra/exp/3']), third);
    assert.equal(await git(repo, ['for-each-ref', 'refs/autoresearch/ra/speculative']), '');

    // A run that continued as new before it used one: the ordinary rebase onto that commit takes it.
    const fourth = await commitWith('LEARNING_RATE = 0.01', 'LEARNING_RATE = 0.05', 4);
    await git(repo, ['checkout', '-q', 'main']);
    const carried = { ...input, n: 4, commit: fourth };
    const made = await rebaseCandidate(carried);
    assert.ok('commit' in made);
    assert.deepEqual(await rebaseCandidate({ ...carried, speculative: false }), made);
    assert.equal(await git(repo, ['rev-parse', 'refs/autoresearch/ra/exp/4']), made.commit);
    assert.equal(await git(repo, ['for-each-ref', 'refs/autoresearch/ra/speculative']), '');
  });

  it('reads --gpus as one slot per GPU, each pinned, and refuses a malformed list', () => {
    assert.deepEqual(trainingSlots({ gpus: '0,1,2' }), [
      { name: 'gpu0', gpus: '0' },
      { name: 'gpu1', gpus: '1' },
      { name: 'gpu2', gpus: '2' },
    ]);
    assert.deepEqual(trainingSlots({ gpus: '0+1,2+3' }), [
      { name: 'gpu0-1', gpus: '0,1' },
      { name: 'gpu2-3', gpus: '2,3' },
    ]);
    assert.deepEqual(trainingSlots({ slots: 2 }), [{ name: 'gpu0' }, { name: 'gpu0-1' }]);
    assert.throws(() => trainingSlots({ gpus: '0,0' }), /distinct GPU numbers/);
    assert.throws(() => trainingSlots({ gpus: 'all' }), /e\.g\. 0,1,2,3/);
    assert.throws(() => trainingSlots({ slots: 0 }), />= 1/);
  });
});
