// `npm run long-run`: a night's worth of experiments and more, against a target whose training prints
// its metric at once. It shows that the history stays bounded per execution (continue-as-new) and that
// the worker's memory stays flat. Prints events per experiment and per execution, and the worker's
// resident memory at the start, every 10% of the way, and at the end; the record step's time (from the
// history) around experiments 100, 1,000 and 10,000, and the disk the run takes per experiment in its
// first and last tenth (the target's .git: objects, refs, the run directory).
// Options: --experiments N (default 2000), --per-execution N (default 25, the product's default),
// --parallel N (default 1: experiments in flight at once, each on a slot of the one worker; a fleet's
// run on fewer hours of wall clock, with the same history and record paths).
// Uses TEMPORAL_ADDRESS or starts its own server; the worker is a real `autoresearch worker` process.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startRun } from '../client';
import type { RunSummary } from '../common/types';
import { statusQuery } from '../workflows/messages';
import { fetchChain, steps } from './bench/history';
import { spawnWorker } from '../test/support/commandLines';
import { makeTarget } from '../test/support/fakeTarget';
import { assertRunInvariants, checkoutState } from '../test/support/invariants';
import { stopOwnServer, testClient, testServer, uniqueQueues } from '../test/support/temporal';

const { values } = parseArgs({
  options: {
    experiments: { type: 'string', default: '2000' },
    'per-execution': { type: 'string', default: '25' },
    parallel: { type: 'string', default: '1' },
  },
});
const experiments = Number(values.experiments);
const perExecution = Number(values['per-execution']);
const parallel = Number(values.parallel);

/**
 * The instant target: train.py prints a metric at once, derived from STEP. The proposer is a one-line
 * command that sets STEP to the experiment number, so every candidate is new (the offline mutate
 * proposer would run out of untried edits on so small a file long before 2,000).
 */
function instantTarget(): Promise<string> {
  return makeTarget(
    {
      'train.py': 'STEP = 0\nprint("---")\nprint(f"val_bpb: {1 + ((STEP * 7919) % 1000) / 1000:.6f}")\n',
      'prepare.py': '# frozen\n',
      'program.md': '# program\n',
      'autoresearch.toml': '[train]\ncommand = "python3 train.py"\nsetup = []\ntimeout_seconds = 60\n',
    },
    'ar-long-',
  );
}
const SET_STEP = 'sed -i "s/^STEP = .*/STEP = $AUTORESEARCH_EXPERIMENT/" train.py';

/**
 * Disk used by a folder, in bytes (du). Git's housekeeping may remove a loose-object folder while du
 * walks the tree: du then exits 1 with its total still printed, which is the figure wanted.
 */
function diskBytes(dir: string): number {
  let out: string;
  try {
    out = execFileSync('du', ['-sb', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (err) {
    out = String((err as { stdout?: unknown }).stdout ?? '');
  }
  const bytes = Number(out.split('\t')[0]);
  if (!out || !Number.isFinite(bytes)) throw new Error(`du -sb ${dir} printed no total: ${out}`);
  return bytes;
}

/**
 * The record step's mean time, in ms, over the 50 experiments up to `mark` (its history's spans): ending
 * there, so that the last mark of a run (experiment 10,000 of 10,000) has its 50 too.
 */
function recordStepMs(list: ReturnType<typeof steps>, mark: number): number | undefined {
  const spans = list.filter(
    (s) => s.type === 'recordExperiment' && s.n !== undefined && s.n > mark - 50 && s.n <= mark,
  );
  if (spans.length === 0) return undefined;
  return (spans.reduce((a, s) => a + (s.closed - s.started), 0) / spans.length) * 1000;
}

/** Resident memory of a process in MB, from /proc. */
function rssMb(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

const address = await testServer();
const client = await testClient(address);
const queues = uniqueQueues('long');
// The worker runs the one proposer command of this script, as `--agent-command` allows it.
const worker = spawnWorker(address, queues, undefined, [
  '--agent-command',
  SET_STEP,
  '--slots',
  String(parallel),
]);
try {
  const repo = await instantTarget();
  const checkout = await checkoutState(repo);
  const started = Date.now();
  const handle = await startRun(client, {
    repo,
    tag: 'long',
    maxExperiments: experiments - 1,
    proposer: 'command',
    command: { command: SET_STEP, timeoutSeconds: 60 },
    experimentsPerRun: perExecution,
    ...(parallel > 1 ? { parallel } : {}),
    ...queues,
  });
  const memory: string[] = [];
  const disk: { done: number; bytes: number }[] = [];
  let nextMark = 0;
  const result = handle.result() as Promise<RunSummary>;
  let done = false;
  void result.finally(() => (done = true));
  while (!done) {
    const status = await handle.query(statusQuery).catch(() => null);
    if (status && status.experimentsDone >= nextMark) {
      memory.push(`${status.experimentsDone}: ${rssMb(worker.pid!).toFixed(0)} MB`);
      disk.push({ done: status.experimentsDone, bytes: diskBytes(path.join(repo, '.git')) });
      nextMark += Math.max(1, Math.round(experiments / 10));
    }
    await Promise.race([new Promise((r) => setTimeout(r, 1000)), result.catch(() => {})]);
  }
  const summary = await result;
  const wall = (Date.now() - started) / 1000;
  memory.push(`end: ${rssMb(worker.pid!).toFixed(0)} MB`);
  disk.push({ done: summary.experimentsDone, bytes: diskBytes(path.join(repo, '.git')) });
  await assertRunInvariants(repo, 'long', summary, checkout);
  const chain = await fetchChain(client, handle.workflowId, handle.firstExecutionRunId);
  const counts = chain.map((e) => e.length);
  const total = counts.reduce((a, b) => a + b, 0);
  console.log(
    `long run: ${summary.experimentsDone} experiments on ${parallel} slot(s) in ${wall.toFixed(0)}s (${((wall / summary.experimentsDone) * 1000).toFixed(0)} ms each)`,
  );
  console.log(
    `  executions ${counts.length}; events per execution: max ${Math.max(...counts)}, mean ${(total / counts.length).toFixed(0)}; events per experiment ${(total / summary.experimentsDone).toFixed(1)}`,
  );
  console.log(`  worker RSS (experiments done: MB): ${memory.join(', ')}`);
  const list = steps(chain);
  const recordTimes = [100, 1000, 10_000]
    .map((mark) => [mark, recordStepMs(list, mark)] as const)
    .filter(([, ms]) => ms !== undefined)
    .map(([mark, ms]) => `${mark}: ${ms!.toFixed(0)} ms`);
  console.log(`  record step (mean over the 50 experiments up to): ${recordTimes.join(', ') || 'n/a'}`);
  const perExperiment = (a: (typeof disk)[number], b: (typeof disk)[number]) =>
    `${((b.bytes - a.bytes) / Math.max(1, b.done - a.done) / 1024).toFixed(1)} KB`;
  // The samples a tenth of the run apart by experiment count: the last poll may land on the end itself,
  // so the last tenth is measured back from the end sample, never between two samples of the same count.
  const tenth = Math.max(1, Math.round(summary.experimentsDone / 10));
  const end = disk.at(-1)!;
  const firstEnd = disk.find((d) => d.done >= disk[0]!.done + tenth);
  const lastStart = [...disk].reverse().find((d) => d.done <= end.done - tenth);
  if (firstEnd && lastStart)
    console.log(
      `  disk per experiment (.git): first tenth ${perExperiment(disk[0]!, firstEnd)}, last tenth ${perExperiment(lastStart, end)}` +
        ` (experiments ${disk[0]!.done}-${firstEnd.done} and ${lastStart.done}-${end.done})`,
    );
  console.log(`  invariants hold for all ${summary.experimentsDone} experiments (${path.basename(repo)})`);
} finally {
  worker.kill('SIGTERM');
  await client.connection.close();
  await stopOwnServer();
}
