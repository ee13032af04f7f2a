// The chaos engine behind `npm run chaos` and test/chaos.test.ts: a run on a fast fake target while its
// worker processes are SIGKILLed in every phase of an experiment (propose, train, evaluate, record) and
// the Temporal server is stopped and restarted on its SQLite file. Afterwards every invariant of
// docs/ARCHITECTURE.md that such failures could break is checked, and a report says what was done and
// what broke.
//
// How a kill finds its phase: the run's `status` query is polled every ~20 ms, and the one worker alive
// is SIGKILLed as soon as the phase it aims at shows up (round-robin over the four phases; a training is
// killed at a random moment inside it). The training worker scores what it trained (the target's
// evaluate.py, inside the training step), so a kill in evaluating is one while that evaluation's process
// runs: the training has finished and must not run again. A query is answered by a worker, so an answer
// also proves the new worker is up and running the workflow. Kills are counted by the phase seen just before the kill.
// After a kill a new worker starts (after 0-0.5 s); the run stalls ~15 s per kill: the dead worker's
// step waits out its heartbeat timeout, then the next workflow task waits out the dead worker's sticky
// queue (the SDK's 10 s stickyQueueScheduleToStartTimeout) before another worker may take it.
//
// "Trained to completion twice" is seen from outside the product: the fake train.py appends the commit
// it trained (its worktree's HEAD) to a ledger outside the repository when it exits normally. Every
// candidate is a commit of its own, so two lines for one experiment's commit = a finished training ran
// again.
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startRun, workflowIdFor } from '../../client';
import { startDevServer, type DevServer } from '../../temporal/devServer';
import { seededRandom } from '../../proposers/mutate/seededRandom';
import type { ExperimentRecord, RunStatus, RunSummary } from '../../common/types';
import { statusQuery } from '../../workflows/messages';
import { spawnWorker } from './commandLines';
import { makeFakeTarget, signalsDir } from './fakeTarget';
import { assertRunInvariants, checkoutState } from './invariants';
import { runningInGroup, trainingProcesses } from './processes';
import { slotsRoot, readRecords } from '../../store/runDirectory';

export const CHAOS_PHASES = ['proposing', 'training', 'evaluating', 'recording'] as const;
export type ChaosPhase = (typeof CHAOS_PHASES)[number];

export interface ChaosOptions {
  /** Worker SIGKILLs to deliver, spread round-robin over the four phases. */
  kills: number;
  /** Times the Temporal server is stopped and started again on the same SQLite file and port. */
  restarts: number;
  /** The run's max experiments (after the baseline). */
  experiments: number;
  /** How long the fake target "trains" (seconds). */
  sleepSeconds?: number;
  /** Short, so a killed worker's training is retried within seconds. */
  heartbeatTimeoutSeconds?: number;
  /** Small, so continue-as-new happens under chaos too. */
  experimentsPerRun?: number;
  /** Seeds the random moments (kill offsets, delays); the timing of a live system still varies. */
  seed?: number;
  /** The whole run must end within this (default 15 minutes): a safety net, not a target. */
  timeoutMs?: number;
  /** Progress lines (the timeline); default: kept in the report only. */
  log?: (line: string) => void;
  /** Abort (e.g. on Ctrl-C): the run stops early and everything is cleaned up. */
  signal?: AbortSignal;
}

export interface KillEvent {
  phase: RunStatus['phase'];
  aim: ChaosPhase;
  experiment: number | null;
  /** For a kill in training: whether a training process was running at that moment. */
  trainingProcess?: boolean;
  atSeconds: number;
}

export interface ChaosReport {
  seed: number;
  kills: number;
  killsByPhase: Record<ChaosPhase, number>;
  killEvents: KillEvent[];
  restarts: number;
  /** The phase the run was in when the server was stopped, per restart. */
  restartPhases: string[];
  /** Experiments recorded (baseline included), and how many the run was asked for. */
  experiments: number;
  expectedExperiments: number;
  /** Experiment numbers missing from the records or from the workflow's history. */
  lost: number[];
  /** Experiment numbers recorded more than once, scheduled more than once, or trained to completion twice. */
  duplicated: number[];
  /** Experiments whose training was killed while running and then retried (history: attempt >= 2). */
  trainingRetried: number[];
  /** Completed trainings per experiment, from the ledger. */
  completions: Record<number, number>;
  continueAsNew: number;
  /** Training processes still alive a few seconds after their worker was killed, or at the end. */
  orphans: number[];
  /** Workers that exited without being killed by us (e.g. on a server restart). */
  workerDeaths: number;
  /** Every invariant or expectation that failed, in words; empty = all held. */
  failures: string[];
  wallSeconds: number;
  /** Where the server's database, the workers' output and the ledger were (kept only on failure). */
  scratch: string;
  timeline: string[];
}

const DEFAULTS = {
  sleepSeconds: 1.5,
  heartbeatTimeoutSeconds: 3,
  experimentsPerRun: 5,
  timeoutMs: 15 * 60_000,
};

/** A port nothing listens on now (the dev server gets it, and keeps it across restarts). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether a training's process group is alive in any slot (its pid file names the group). */
function trainingRunning(repo: string): boolean {
  const slots = slotsRoot(path.join(repo, '.git'));
  for (const slot of existsSync(slots) ? readdirSync(slots) : []) {
    try {
      const pgid = Number(readFileSync(path.join(slots, slot, 'training.pid'), 'utf8'));
      if (pgid > 0 && runningInGroup(pgid).length > 0) return true;
    } catch {
      // no training in this slot
    }
  }
  return false;
}

/** Whether the target's evaluation (evaluate.py, after a finished training) runs in one of its slots. */
function evaluationRunning(repo: string): boolean {
  return trainingProcesses(repo).some((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('evaluate.py');
    } catch {
      return false;
    }
  });
}

/** The fake target, plus a ledger line (the commit trained) each time a training finishes. */
async function chaosTarget(sleepSeconds: number, ledger: string): Promise<string> {
  // atexit runs only on a normal exit: a training killed midway (SIGKILL from its supervisor) writes nothing.
  const extra = [
    'import atexit, subprocess',
    'def _ledger():',
    '    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()',
    `    with open(${JSON.stringify(ledger)}, "a") as f:`,
    '        f.write(head + "\\n")',
    'atexit.register(_ledger)',
  ].join('\n');
  // An evaluation of its own, long enough for a kill to land in it.
  return makeFakeTarget({ sleepSeconds, extra, evaluationSeconds: 1 });
}

/** Finished trainings per experiment: the ledger's commits, matched to the experiments' candidates. */
function readLedger(ledger: string, records: ExperimentRecord[]): Record<number, number> {
  const counts: Record<number, number> = {};
  const lines = existsSync(ledger) ? readFileSync(ledger, 'utf8').split('\n').filter(Boolean) : [];
  for (const commit of lines) {
    // -1 stands for a commit no experiment recorded (it would be a finding of its own).
    const n = records.find((r) => r.commit === commit)?.n ?? -1;
    counts[n] = (counts[n] ?? 0) + 1;
  }
  return counts;
}

/** A restart is either `live` (a worker up, mid-phase) or comes right after a kill, while no worker is up. */
type Step = { kind: 'kill'; aim: ChaosPhase } | { kind: 'restart'; live: boolean };

/** Where kills and restarts go: kills round-robin over the phases, restarts spread evenly between them. */
function plan(kills: number, restarts: number): Step[] {
  // Restart j comes after kill number floor((j + 1) * kills / (restarts + 1)) (0 = before any kill);
  // the first, third ... right after that kill, the others once a worker is up again.
  const after = [...Array(restarts).keys()].map((j) => Math.floor(((j + 1) * kills) / (restarts + 1)));
  const restart = (j: number): Step => ({ kind: 'restart', live: j % 2 === 1 });
  const steps: Step[] = [];
  after.forEach((a, j) => a === 0 && steps.push(restart(j)));
  for (let k = 1; k <= kills; k++) {
    steps.push({ kind: 'kill', aim: CHAOS_PHASES[(k - 1) % CHAOS_PHASES.length]! });
    after.forEach((a, j) => a === k && steps.push(restart(j)));
  }
  return steps;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const settings = { ...DEFAULTS, ...options };
  const seed = options.seed ?? Math.floor(Math.random() * 1e6);
  const random = seededRandom('chaos', seed);
  const started = Date.now();
  const deadline = started + settings.timeoutMs;
  const elapsed = () => (Date.now() - started) / 1000;
  const timeline: string[] = [];
  const note = (line: string) => {
    const stamped = `[${elapsed().toFixed(1).padStart(6)}s] ${line}`;
    timeline.push(stamped);
    options.log?.(stamped);
  };
  const checkAbort = () => {
    if (options.signal?.aborted) throw new Error('chaos run aborted');
    if (Date.now() > deadline) throw new Error(`chaos run took longer than ${settings.timeoutMs / 1000}s`);
  };

  const scratch = mkdtempSync(path.join(tmpdir(), 'ar-chaos-'));
  // Where the sandbox lets the fake target's trainings write (its [sandbox] write_paths).
  const ledger = path.join(mkdtempSync(path.join(signalsDir(), 'chaos-')), 'completions.log');
  const workerLog = path.join(scratch, 'workers.log');
  const dbFile = path.join(scratch, 'temporal.sqlite');
  const port = await freePort();
  const tag = 'chaos';
  const workflowId = workflowIdFor(tag);
  const queues = {
    taskQueue: `chaos-${process.pid}-${seed}`,
    trainTaskQueue: `chaos-${process.pid}-${seed}-gpu`,
  };

  const report: ChaosReport = {
    seed,
    kills: 0,
    killsByPhase: { proposing: 0, training: 0, evaluating: 0, recording: 0 },
    killEvents: [],
    restarts: 0,
    restartPhases: [],
    experiments: 0,
    expectedExperiments: settings.experiments + 1,
    lost: [],
    duplicated: [],
    completions: {},
    trainingRetried: [],
    continueAsNew: 0,
    orphans: [],
    workerDeaths: 0,
    failures: [],
    wallSeconds: 0,
    scratch,
    timeline,
  };

  let server: DevServer | undefined;
  let client: Client | undefined;
  let worker: ChildProcess | undefined;
  let workerCount = 0;
  let repo = '';

  /** One worker process, as a person starts it, on our server and task queues; output to workers.log. */
  const startWorker = (): ChildProcess => {
    const out = openSync(workerLog, 'a');
    const child = spawnWorker(server!.address, queues, ['ignore', out, out]);
    closeSync(out);
    workerCount++;
    return child;
  };
  const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;
  const waitExit = (child: ChildProcess) =>
    exited(child) ? Promise.resolve() : new Promise<void>((r) => child.once('exit', () => r()));

  /** Restarts the worker if it died on its own (it may, while the server is down). */
  const keepWorkerAlive = () => {
    if (worker && exited(worker)) {
      report.workerDeaths++;
      note(
        `worker exited on its own (code ${worker.exitCode}, signal ${worker.signalCode}); starting another`,
      );
      worker = startWorker();
    }
  };

  const connect = async () => {
    // A fresh Connection after each restart: the old channel may sit in a long reconnect backoff.
    await client?.connection.close().catch(() => {});
    client = new Client({ connection: await Connection.connect({ address: server!.address }) });
  };

  /** The run's status, or null when nobody answers within a second (no worker up, server down). */
  const status = async (): Promise<RunStatus | null> => {
    try {
      return await client!.connection.withDeadline(Date.now() + 1000, () =>
        client!.workflow.getHandle(workflowId).query(statusQuery),
      );
    } catch {
      return null;
    }
  };
  const ended = (s: RunStatus | null) => s !== null && ['finished', 'stopped', 'failed'].includes(s.phase);

  /** A closed run (completed or failed) answers describe() even when no query can be answered. */
  let lastDescribe = 0;
  const closed = async (): Promise<boolean> => {
    if (Date.now() - lastDescribe < 1000) return false;
    lastDescribe = Date.now();
    try {
      const d = await client!.connection.withDeadline(Date.now() + 1000, () =>
        client!.workflow.getHandle(workflowId).describe(),
      );
      return d.status.name !== 'RUNNING';
    } catch {
      return false;
    }
  };

  /** Waits for the aimed phase, then SIGKILLs the worker; false when the run ended first. */
  const killIn = async (aim: ChaosPhase): Promise<boolean> => {
    let armAt: number | undefined;
    let lastSeen: RunStatus | null = null;
    // With pipelining, a proposal (or a record) runs beside a training: aim at any experiment in flight.
    let target: { n: number; phase: ChaosPhase } | undefined;
    const waitingSince = Date.now();
    for (;;) {
      checkAbort();
      keepWorkerAlive();
      const s = await status();
      if (ended(s) || (s === null && (await closed()))) return false;
      if (s && !lastSeen) note(`a worker answers: ${s.phase} (experiment ${s.currentExperiment})`);
      if (s && lastSeen && s.phase !== lastSeen.phase)
        note(`  ${s.phase} (experiment ${s.currentExperiment})`);
      if (s) lastSeen = s;
      // The evaluation runs inside the training step: the workflow still shows that experiment training.
      // One look at /proc per poll, not one per experiment in flight.
      const match =
        aim === 'evaluating'
          ? evaluationRunning(repo)
            ? s?.inFlight.find((a) => a.phase === 'training')
            : undefined
          : s?.inFlight.find((a) => a.phase === aim);
      target = match ? { n: match.n, phase: aim } : undefined;
      if (target) {
        // A training lasts seconds: kill at a random moment of it, not always at its start.
        if (aim === 'training') armAt ??= Date.now() + random() * (settings.sleepSeconds + 0.5) * 1000;
        if (armAt === undefined || Date.now() >= armAt) break;
      } else {
        armAt = undefined;
      }
      if (Date.now() - waitingSince > 90_000)
        throw new Error(`no "${aim}" phase seen for 90 s (last status: ${lastSeen?.phase ?? 'none'})`);
      await sleep(20);
    }
    const hit = target!;
    const victim = worker!;
    const hadTraining = aim === 'training' ? trainingRunning(repo) : undefined;
    victim.kill('SIGKILL');
    await waitExit(victim);
    report.kills++;
    report.killsByPhase[hit.phase]++;
    report.killEvents.push({
      phase: hit.phase,
      aim,
      experiment: hit.n,
      trainingProcess: hadTraining,
      atSeconds: elapsed(),
    });
    note(
      `kill #${report.kills} in ${hit.phase} (experiment ${hit.n})` +
        (hadTraining === undefined
          ? ''
          : hadTraining
            ? ', training process running'
            : ', no training process yet'),
    );

    // The supervisor sees its worker's pipe close and takes the training's process group down: at once
    // on a quiet machine, a while on a loaded one (a generous wait, not a measure of how fast).
    const gone = Date.now() + 60_000;
    while (trainingProcesses(repo).length > 0 && Date.now() < gone) await sleep(50);
    const left = trainingProcesses(repo);
    if (left.length) {
      report.orphans.push(...left);
      note(`orphan training processes after the kill: ${left.join(', ')}`);
    }
    // A new worker, sometimes at once, sometimes after a moment.
    await sleep(random() * 500);
    worker = startWorker();
    return true;
  };

  /**
   * Stops the server, waits a little, starts it again on the same SQLite file and port. A live restart
   * waits for a worker to answer and stops the server at a random moment of the phase it is in (the
   * worker must reconnect on its own); the other kind follows a kill at once, so server and worker are
   * down together.
   */
  const restartServer = async (live: boolean): Promise<boolean> => {
    let s: RunStatus | null = null;
    while (live && !s) {
      checkAbort();
      keepWorkerAlive();
      s = await status();
      if (ended(s) || (s === null && (await closed()))) return false;
      await sleep(50);
    }
    await sleep(random() * 2000);
    const phase = live ? ((await status())?.phase ?? s!.phase) : 'a worker just killed';
    await server!.stop();
    report.restarts++;
    report.restartPhases.push(phase);
    note(`server stopped (restart #${report.restarts}) in ${phase}`);
    await sleep(500 + random() * 2000);
    server = await startDevServer({ port, dbFile, headless: true });
    await connect();
    note(`server started again on ${server.address}`);
    return true;
  };

  try {
    server = await startDevServer({ port, dbFile, headless: true });
    await connect();
    repo = await chaosTarget(settings.sleepSeconds, ledger);
    const checkout = await checkoutState(repo);
    note(`seed ${seed}; server ${server.address}; target ${repo}; scratch ${scratch}`);
    worker = startWorker();
    const handle = await startRun(client!, {
      repo,
      tag,
      maxExperiments: settings.experiments,
      // One training per experiment, as the ledger counts them: the baseline's repeats (this target sets
      // no seed) would read as trainings run twice. The noise tests cover repeats.
      noiseRuns: 1,
      heartbeatTimeoutSeconds: settings.heartbeatTimeoutSeconds,
      experimentsPerRun: settings.experimentsPerRun,
      ...queues,
    });
    const firstRunId = handle.firstExecutionRunId;

    for (const step of plan(options.kills, options.restarts)) {
      const done = step.kind === 'kill' ? !(await killIn(step.aim)) : !(await restartServer(step.live));
      if (done) break;
    }
    if (report.kills < options.kills || report.restarts < options.restarts)
      report.failures.push(
        `the run ended after ${report.kills} of ${options.kills} kills and ${report.restarts} of ` +
          `${options.restarts} restarts: give it more experiments`,
      );
    note(`chaos done (${report.kills} kills, ${report.restarts} restarts); letting the run finish`);

    // The run now finishes with one worker; result() follows continue-as-new.
    let summary: RunSummary | undefined;
    while (!summary) {
      checkAbort();
      keepWorkerAlive();
      try {
        summary = (await client!.connection.withDeadline(Date.now() + 5000, () =>
          client!.workflow.getHandle(workflowId).result(),
        )) as RunSummary;
      } catch (err) {
        // A deadline just means "not yet"; a failed run is a finding, not a reason to wait forever.
        if ((err as Error).name === 'WorkflowFailedError') throw err;
        await sleep(200);
      }
    }
    note(`run finished: ${summary.experimentsDone} experiments, best ${summary.best?.metric}`);

    worker.kill('SIGTERM');
    const stopped = Date.now() + 10_000;
    while (!exited(worker) && Date.now() < stopped) await sleep(50);
    if (!exited(worker)) worker.kill('SIGKILL');
    await waitExit(worker);

    await checkRun({ report, repo, tag, summary, checkout, ledger, client: client!, workflowId, firstRunId });
  } catch (err) {
    report.failures.push(`the chaos run itself failed: ${(err as Error).message}`);
    note(`failed: ${(err as Error).stack ?? err}`);
  } finally {
    // Whatever happened: no worker, no training, no server, no connection left behind.
    if (worker && !exited(worker)) {
      worker.kill('SIGKILL');
      await waitExit(worker);
    }
    if (repo)
      for (const pid of trainingProcesses(repo)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
    await client?.connection.close().catch(() => {});
    await server?.stop().catch(() => {});
    report.wallSeconds = elapsed();
    // The files are evidence: kept when something failed, removed when all held.
    if (report.failures.length === 0) {
      rmSync(scratch, { recursive: true, force: true });
      if (repo) rmSync(repo, { recursive: true, force: true });
      note(`${workerCount} worker processes in all`);
    } else {
      note(`${workerCount} worker processes in all; their output: ${workerLog}; the target: ${repo}`);
    }
  }
  return report;
}

/** The invariants (docs/ARCHITECTURE.md) after the storm, and the chaos checks; failures go to the report. */
async function checkRun(args: {
  report: ChaosReport;
  repo: string;
  tag: string;
  summary: RunSummary;
  checkout: { head: string; branch: string };
  ledger: string;
  client: Client;
  workflowId: string;
  firstRunId: string;
}): Promise<void> {
  const { report, repo, tag, summary } = args;
  const fail = (what: string) => report.failures.push(what);
  const runDir = path.join(repo, '.git', 'autoresearch', 'runs', tag);
  const records: ExperimentRecord[] = readRecords(runDir);
  report.experiments = records.length;
  const expected = [...Array(report.expectedExperiments).keys()];

  // Invariants 1, 2, 4 (records, results.tsv, branch head, candidate refs, clean trees).
  try {
    await assertRunInvariants(repo, tag, summary, args.checkout);
  } catch (err) {
    fail(`invariants: ${(err as Error).message}`);
  }
  if (summary.experimentsDone !== report.expectedExperiments)
    fail(`the run reports ${summary.experimentsDone} experiments, not ${report.expectedExperiments}`);

  // What the workflow itself scheduled, across every execution of the continue-as-new chain.
  const scheduled = await scheduledPerExperiment(args.client, args.workflowId, args.firstRunId);
  report.continueAsNew = scheduled.executions - 1;

  report.completions = readLedger(args.ledger, records);
  if (report.completions[-1])
    fail(`${report.completions[-1]} finished trainings of commits no experiment recorded`);
  const recordCount = new Map<number, number>();
  for (const r of records) recordCount.set(r.n, (recordCount.get(r.n) ?? 0) + 1);
  const tsvRows = readFileSync(path.join(runDir, 'results.tsv'), 'utf8').trimEnd().split('\n').length - 1;
  if (tsvRows !== records.length) fail(`results.tsv has ${tsvRows} rows for ${records.length} records`);

  report.lost = expected.filter((n) => !recordCount.has(n) || !scheduled.record.has(n));
  const allNumbers = new Set([...expected, ...recordCount.keys(), ...scheduled.record.keys()]);
  report.duplicated = [...allNumbers]
    .filter(
      (n) =>
        (recordCount.get(n) ?? 0) > 1 ||
        (scheduled.record.get(n) ?? 0) > 1 ||
        (scheduled.train.get(n) ?? 0) > 1 ||
        (report.completions[n] ?? 0) > 1,
    )
    .sort((a, b) => a - b);
  const unexpected = [...recordCount.keys()].filter((n) => !expected.includes(n));
  if (unexpected.length) fail(`experiments recorded beyond the run's limit: ${unexpected.join(', ')}`);
  if (report.lost.length) fail(`lost experiments: ${report.lost.join(', ')}`);
  for (const n of report.duplicated)
    fail(
      `experiment ${n} duplicated: ${recordCount.get(n) ?? 0} records, ${scheduled.record.get(n) ?? 0} record steps and ` +
        `${scheduled.train.get(n) ?? 0} trainings scheduled, ${report.completions[n] ?? 0} trainings run to completion`,
    );

  // Every trained experiment's result came from exactly one finished training (none from thin air).
  for (const r of records)
    if ((r.status === 'keep' || r.status === 'discard') && (report.completions[r.n] ?? 0) === 0)
      fail(`experiment ${r.n} was scored but no training of it ever finished`);

  // The fake target never crashes: a training killed midway must have been retried, not recorded as a
  // crash (nor cancelled, nor timed out).
  for (const kill of report.killEvents.filter((k) => k.phase === 'training' && k.experiment !== null)) {
    const n = kill.experiment!;
    const record = records.find((r) => r.n === n);
    if (record && record.status !== 'keep' && record.status !== 'discard')
      fail(
        `experiment ${n}, killed while training, was recorded as ${record.status}: ${record.reason ?? ''}`,
      );
    const attempts = scheduled.trainAttempts.get(n) ?? 0;
    if (kill.trainingProcess && attempts < 2)
      fail(
        `experiment ${n} was killed while its training ran, yet its training ended on attempt ${attempts}`,
      );
    if (kill.trainingProcess && attempts >= 2) report.trainingRetried.push(n);
  }
  const failedRecords = records.filter((r) => r.status !== 'keep' && r.status !== 'discard');
  for (const r of failedRecords) fail(`experiment ${r.n} recorded as ${r.status}: ${r.reason ?? ''}`);

  // Invariant 4: no training process outlives the run, and none outlived its killed worker.
  const left = trainingProcesses(repo);
  if (left.length) report.orphans.push(...left);
  if (report.orphans.length) fail(`orphan training processes: ${report.orphans.join(', ')}`);

  for (const phase of CHAOS_PHASES) if (report.killsByPhase[phase] === 0) fail(`no kill landed in ${phase}`);
}

/** How many times the workflow scheduled record and train steps per experiment, over all its executions. */
async function scheduledPerExperiment(
  client: Client,
  workflowId: string,
  firstRunId: string,
): Promise<{
  record: Map<number, number>;
  train: Map<number, number>;
  /** The attempt that ended each experiment's training (2 or more: it was retried). */
  trainAttempts: Map<number, number>;
  executions: number;
}> {
  const record = new Map<number, number>();
  const train = new Map<number, number>();
  const trainAttempts = new Map<number, number>();
  let runId: string | undefined = firstRunId;
  let executions = 0;
  while (runId) {
    executions++;
    const history: temporal.api.history.v1.IHistory = await client.workflow
      .getHandle(workflowId, runId)
      .fetchHistory();
    runId = undefined;
    const trainingOf = new Map<number, number>(); // scheduled event id -> experiment
    for (const event of history.events ?? []) {
      const scheduled = event.activityTaskScheduledEventAttributes;
      if (scheduled) {
        const payload = scheduled.input?.payloads?.[0];
        const input = payload ? defaultPayloadConverter.fromPayload<Record<string, unknown>>(payload) : {};
        const name = scheduled.activityType?.name;
        if (name === 'recordExperiment') {
          const n = (input.record as ExperimentRecord).n;
          record.set(n, (record.get(n) ?? 0) + 1);
        } else if (name === 'trainCandidate') {
          const n = input.n as number;
          train.set(n, (train.get(n) ?? 0) + 1);
          trainingOf.set(Number(event.eventId), n);
        }
      }
      // The started event is written when the activity closes, with the attempt that closed it.
      const startedEvent = event.activityTaskStartedEventAttributes;
      const trained = startedEvent ? trainingOf.get(Number(startedEvent.scheduledEventId)) : undefined;
      if (trained !== undefined) trainAttempts.set(trained, startedEvent?.attempt ?? 1);
      const next = event.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
      if (next) runId = next;
    }
  }
  return { record, train, trainAttempts, executions };
}

export function formatChaosReport(report: ChaosReport): string {
  const byPhase = CHAOS_PHASES.map((p) => `${p} ${report.killsByPhase[p]}`).join(', ');
  const trainingKills = report.killEvents.filter((k) => k.phase === 'training');
  const hit = trainingKills.filter((k) => k.trainingProcess).length;
  const retried = report.trainingRetried.length;
  const lines = [
    `chaos run (seed ${report.seed})`,
    `  kills:           ${report.kills} (${byPhase}); ${hit} of ${trainingKills.length} training kills hit a running training, ${retried} retried`,
    `  server restarts: ${report.restarts}${report.restartPhases.length ? ` (in ${report.restartPhases.join(', ')})` : ''}`,
    `  experiments:     ${report.experiments} of ${report.expectedExperiments} (baseline included), ${report.continueAsNew} continue-as-new`,
    `  lost:            ${report.lost.length}${report.lost.length ? ` (${report.lost.join(', ')})` : ''}`,
    `  duplicated:      ${report.duplicated.length}${report.duplicated.length ? ` (${report.duplicated.join(', ')})` : ''}`,
    `  orphans:         ${report.orphans.length}; workers that died on their own: ${report.workerDeaths}`,
    `  wall time:       ${report.wallSeconds.toFixed(1)} s`,
    report.failures.length
      ? `  FAILED:\n${report.failures.map((f) => `    - ${f}`).join('\n')}`
      : '  every invariant held',
  ];
  return lines.join('\n');
}
