// `npm run chaos`: a run on a fast fake target while its workers are SIGKILLed in every phase
// (propose, train, evaluate, record) and the Temporal server is restarted on its SQLite file; then
// every invariant of docs/ARCHITECTURE.md is checked. Prints kills (total, per phase), restarts,
// experiments, lost, duplicated and the wall time; exits 1 if anything was lost, duplicated or broken.
// Options: --kills N (default 30), --restarts N (default 3), --experiments N (default 20),
// --seed N (random by default; printed, so a run's random moments can be drawn again), --quiet.
// Needs nothing running: it starts its own Temporal dev server and worker processes.
import { parseArgs } from 'node:util';
import { formatChaosReport, runChaos } from '../test/support/chaos';

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '30' },
    restarts: { type: 'string', default: '3' },
    experiments: { type: 'string', default: '20' },
    seed: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
});

function count(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name} takes a whole number, not "${text}"`);
    process.exit(2);
  }
  return n;
}

// Ctrl-C ends the run early, but still through its clean-up (workers, trainings, server).
const abort = new AbortController();
process.once('SIGINT', () => abort.abort());
process.once('SIGTERM', () => abort.abort());

const report = await runChaos({
  kills: count('kills', values.kills),
  restarts: count('restarts', values.restarts),
  experiments: count('experiments', values.experiments),
  ...(values.seed !== undefined ? { seed: count('seed', values.seed) } : {}),
  log: values.quiet ? undefined : (line) => console.error(line),
  signal: abort.signal,
});
console.log(formatChaosReport(report));
process.exit(report.failures.length ? 1 : 0);
