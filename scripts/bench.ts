// `npm run bench`: the figures the project promises, measured on this machine (each part in scripts/bench/).
//  duty      share of slot time spent training, sequential and pipelined, on a simulated trainer (sleeps
//            for its budget) and proposer (sleeps for a share of it, then edits one knob);
//  scaling   experiments per hour with 1 to 64 slots, pipelined, and the scaling efficiency (past 8 slots,
//            training worker processes of 8 slots each and the bench's control worker: a simulated fleet);
//  ceiling   the single-run ceiling: experiments per minute with every slot of the widest row and a
//            training and proposer that take no time, against what 64 GPUs at a 5-minute budget need;
//  overhead  orchestration overhead per experiment against a bare loop doing the same git and process
//            work without Temporal, and history events per experiment;
//  chart     drawing the progress chart (SVG and PNG) for runs of 100 and 1,000 experiments;
//  record    the record step on runs of 100, 1,000 and 10,000 records: its time, the event loop's longest
//            block, the chart's lag, disk per experiment;
//  keeps     false keeps on tinylm with the mutate proposer under the strict and the noise-aware keep
//            rule: every keep re-run with new seeds, and the GPU time each rule spent;
//  tinylm    the bundled tinylm baseline at its default budget: wall time, val_bpb, peak memory;
//  sandbox   the training sandbox's cost per experiment: a trivial training with and without it.
// Each figure is printed next to its target; the bench measures and never fails on a figure.
// Options: --only PART[,PART] | --skip PART[,PART] (--skip-tinylm), --budget SECONDS (20),
// --proposer-share SHARE (0.2), --experiments N (6), --rounds N (3), --slots LIST (1,2,4,8,16,32,64),
// --slots-per-worker N (8), --ceiling-experiments N (200),
// --overhead-experiments N (20), --keeps-experiments N (12), --keeps-budget SECONDS (8),
// --reruns N (3), --sandbox-runs N (30). Uses TEMPORAL_ADDRESS or starts its own server.
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { benchCeiling } from './bench/ceiling';
import { benchChart } from './bench/chart';
import type { Bench, BenchSettings } from './bench/context';
import { benchDutyCycle } from './bench/dutyCycle';
import { benchFalseKeeps } from './bench/falseKeeps';
import { benchOverhead } from './bench/overhead';
import { benchRecordStep } from './bench/recordStep';
import { benchSandboxCost } from './bench/sandboxCost';
import { benchScaling } from './bench/scaling';
import { benchTinylm } from './bench/tinylm';
import type { SimulatedRun } from './bench/runs';
import { stopOwnServer, testClient, testServer } from '../test/support/temporal';

const PARTS = [
  'duty',
  'scaling',
  'ceiling',
  'overhead',
  'chart',
  'record',
  'keeps',
  'tinylm',
  'sandbox',
] as const;
type Part = (typeof PARTS)[number];

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    skip: { type: 'string' },
    'skip-tinylm': { type: 'boolean', default: false },
    budget: { type: 'string', default: '20' },
    'proposer-share': { type: 'string', default: '0.2' },
    experiments: { type: 'string', default: '6' },
    rounds: { type: 'string', default: '3' },
    slots: { type: 'string', default: '1,2,4,8,16,32,64' },
    'slots-per-worker': { type: 'string', default: '8' },
    'ceiling-experiments': { type: 'string', default: '200' },
    'overhead-experiments': { type: 'string', default: '20' },
    'keeps-experiments': { type: 'string', default: '12' },
    'keeps-budget': { type: 'string', default: '8' },
    reruns: { type: 'string', default: '3' },
    'sandbox-runs': { type: 'string', default: '30' },
  },
});

function usage(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(2);
}

function number(name: string, text: string, whole: boolean): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || (whole && !Number.isInteger(n)))
    usage(`--${name} takes a ${whole ? 'whole ' : ''}number above 0, not "${text}"`);
  return n;
}

function parts(text: string | undefined, flag: string): Part[] {
  if (text === undefined) return [];
  const names = text.split(',').map((p) => p.trim());
  for (const name of names)
    if (!(PARTS as readonly string[]).includes(name))
      usage(`--${flag} takes parts among ${PARTS.join(', ')}; got "${name}"`);
  return names as Part[];
}

const settings: BenchSettings = {
  budget: number('budget', values.budget, false),
  proposerShare: number('proposer-share', values['proposer-share'], false),
  experiments: number('experiments', values.experiments, true),
  rounds: number('rounds', values.rounds, true),
  slots: values.slots
    .split(',')
    .map((s) => number('slots', s.trim(), true))
    .sort((a, b) => a - b),
  slotsPerWorker: number('slots-per-worker', values['slots-per-worker'], true),
  overheadExperiments: number('overhead-experiments', values['overhead-experiments'], true),
  keepsExperiments: number('keeps-experiments', values['keeps-experiments'], true),
  keepsBudget: number('keeps-budget', values['keeps-budget'], false),
  reruns: number('reruns', values.reruns, true),
};
const only = parts(values.only, 'only');
const skipped = [...parts(values.skip, 'skip'), ...(values['skip-tinylm'] ? (['tinylm'] as const) : [])];
const selected = PARTS.filter((p) => (only.length === 0 || only.includes(p)) && !skipped.includes(p));

const started = Date.now();
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
console.log(
  `bench: ${selected.join(', ')}; budget ${settings.budget} s, proposer share ${settings.proposerShare}, ` +
    `${settings.experiments} experiments, ${settings.rounds} rounds on ${settings.slots.join('/')} slots, ` +
    `${settings.overheadExperiments} overhead experiments; keeps: ${settings.keepsExperiments} experiments ` +
    `at ${settings.keepsBudget} s, ${settings.reruns} re-runs`,
);
console.log(`machine: ${cpus().length} cores, load average ${load()} (1, 5, 15 min)`);

const address = await testServer();
const bench: Bench = { address, client: await testClient(address), settings };
try {
  let pipelined: SimulatedRun | undefined;
  for (const part of selected) {
    if (part === 'duty') pipelined = await benchDutyCycle(bench);
    if (part === 'scaling') await benchScaling(bench, pipelined);
    if (part === 'ceiling')
      await benchCeiling(bench, number('ceiling-experiments', values['ceiling-experiments'], true));
    if (part === 'overhead') await benchOverhead(bench);
    if (part === 'chart') await benchChart();
    if (part === 'record') await benchRecordStep();
    if (part === 'keeps') await benchFalseKeeps(bench);
    if (part === 'tinylm') await benchTinylm(bench);
    if (part === 'sandbox') await benchSandboxCost(number('sandbox-runs', values['sandbox-runs'], true));
  }
  console.log(`\nbench done in ${((Date.now() - started) / 1000).toFixed(0)} s; load average ${load()}`);
} finally {
  await bench.client.connection.close();
  await stopOwnServer();
}
