// Invariants 1, 2 and 4 of docs/ARCHITECTURE.md checked on a finished (or stopped) run, straight from git
// and the run directory.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { RESULTS_HEADER } from '../../store/resultsTsv';
import type { ExperimentRecord, RunSummary } from '../../common/types';
import { git } from './fakeTarget';
import { slotsRoot, readRecords } from '../../store/runDirectory';

const ROW = /^[0-9a-f]{7}\t\d+\.\d{6}\t\d+\.\d\t(keep|discard|crash)\t[^\t\n]+$/;

export async function assertRunInvariants(
  repo: string,
  tag: string,
  summary: RunSummary,
  before: { head: string; branch: string },
): Promise<ExperimentRecord[]> {
  const runDir = path.join(repo, '.git', 'autoresearch', 'runs', tag);
  const records = readRecords(runDir);

  // 1. every experiment number exactly once, in the record and in results.tsv
  assert.deepEqual(
    records.map((r) => r.n),
    [...Array(summary.experimentsDone).keys()],
    'experiment records are 0..N-1, each once',
  );
  const tsv = readFileSync(path.join(runDir, 'results.tsv'), 'utf8').trimEnd().split('\n');
  assert.equal(tsv[0], RESULTS_HEADER);
  assert.equal(tsv.length - 1, records.length, 'one results.tsv row per experiment');
  tsv.slice(1).forEach((row, i) => {
    assert.match(row, ROW);
    assert.equal(row.split('\t')[0], records[i]!.commit.slice(0, 7));
  });

  // 2. the branch head is the best kept commit; every candidate is reachable by its ref
  const head = await git(repo, ['rev-parse', `refs/heads/autoresearch/${tag}`]);
  // Every keep beat the best when it was decided, so the best kept is the last one decided (with
  // several slots, decisions come in any order of numbers).
  const kept = records.filter((r) => r.status === 'keep');
  const best = summary.best!;
  const metrics = kept.map((r) => r.metric!);
  assert.ok(
    metrics.every((m) => m >= best.metric) || metrics.every((m) => m <= best.metric),
    `the best (${best.metric}) is the best of every keep (${metrics.join(', ')})`,
  );
  assert.equal(kept.find((r) => r.n === best.n)?.commit, best.commit, 'the best is a kept experiment');
  assert.equal(head, best.commit, 'branch head = best kept commit');
  for (const r of records) {
    // An invalid proposal made no candidate (it stays on its parent), nor did one cancelled before it
    // was made; every other experiment has one.
    // A cancelled one's candidate is set aside under cancelled/<n>.
    if ((r.status === 'invalid' || r.status === 'cancelled') && r.commit === r.parent) continue;
    const kind = r.status === 'cancelled' ? 'cancelled' : 'exp';
    assert.equal(await git(repo, ['rev-parse', `refs/autoresearch/${tag}/${kind}/${r.n}`]), r.commit);
  }

  // 4. the user's working tree and checkout are untouched; slot worktrees are clean
  assert.equal(
    await git(repo, ['status', '--porcelain', '--untracked-files=all']),
    '',
    'user tree untouched',
  );
  assert.equal(await git(repo, ['rev-parse', 'HEAD']), before.head);
  assert.equal(await git(repo, ['rev-parse', '--abbrev-ref', 'HEAD']), before.branch);
  const slots = slotsRoot(path.join(repo, '.git'));
  for (const slot of existsSync(slots) ? readdirSync(slots) : []) {
    const worktree = path.join(slots, slot, 'worktree');
    if (existsSync(worktree))
      assert.equal(await git(worktree, ['status', '--porcelain']), '', `slot ${slot} is clean`);
  }
  return records;
}

export async function checkoutState(repo: string): Promise<{ head: string; branch: string }> {
  return {
    head: await git(repo, ['rev-parse', 'HEAD']),
    branch: await git(repo, ['rev-parse', '--abbrev-ref', 'HEAD']),
  };
}
