#!/usr/bin/env node
// `npm test`: set up what the tests need (Temporal CLI, uv, bubblewrap, one dev server), then run every
// test/**/*.test.ts (test/support/ holds no tests) with Node's test runner, one file at a time (they train
// real models on 2 cores), in two tiers: FAST first (pure code, the workflow boundary probe, the workflow
// against mocked activities: seconds a file), then SYSTEM (real server runs, real git, real subprocesses:
// the rest, about twenty minutes). A failure in the fast tier stops there, before the system tier spends
// its twenty minutes on a tree already known to be broken.
//   npm run test:fast                      the fast tier alone
//   npm test -- test/rules.test.ts         only the files named (as given, in one group)
//   npm test -- --test-name-pattern=keep test/rules.test.ts   node --test's options go before the files
//   node bin/run-tests.js --list           which file is in which tier, nothing run
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { register } from 'tsx/esm/api';

/**
 * The fast tier: files, or folders ending in '/', whose tests take seconds and need no training, git
 * repository or server of their own (the workflow tests use the suite's dev server). Every other test
 * file is in the system tier, so a new test is fast only once someone says so here.
 */
const FAST = [
  'test/workflows/', // the research loop on mocked activities: interleavings, drain, cancellation
  'test/workflowBoundary.test.ts', // Node APIs in workflow code fail the typecheck and the lint
  'test/clientBoundary.test.ts', // client.ts and the run commands never load the worker's code
  'test/keepRule.test.ts', // the keep rules as plain functions
  'test/rules.test.ts', // decisions, parsing, formats, the mutate proposer, config validation
  'test/agentAllowlist.test.ts', // what a worker lets the command proposer run, from its own flags
  'test/fakeAnthropic.test.ts', // the fake Messages API against the real SDK, in process
  'test/plot.test.ts', // the progress chart drawn from a recorded run's records
  'test/compose.test.ts', // docker-compose.yml against the Compose schema
  'test/engines.test.ts', // the lock file against the declared Node range
];

const args = process.argv.slice(2);
const OURS = ['--fast', '--list'];
const fastOnly = args.includes('--fast');
const options = args.filter((a) => a.startsWith('-') && !OURS.includes(a));
const chosen = args.filter((a) => !a.startsWith('-'));

const stale = FAST.filter((f) => !f.endsWith('/') && !existsSync(f));
if (stale.length) {
  console.error(`[npm test] bin/run-tests.js lists ${stale.join(', ')} in the fast tier, but no such file`);
  process.exit(1);
}
const isFast = (file) => FAST.some((f) => (f.endsWith('/') ? file.startsWith(f) : file === f));
const all = readdirSync(new URL('../test', import.meta.url), { recursive: true })
  .map((f) => `test/${f.split('\\').join('/')}`)
  .filter((f) => f.endsWith('.test.ts'))
  .sort();
// Named files run with the arguments as given (an option's value may follow it, `--test-name-pattern x`).
const tiers = chosen.length
  ? [{ name: 'chosen', files: chosen, argv: args.filter((a) => !OURS.includes(a)) }]
  : [
      { name: 'fast', files: all.filter(isFast) },
      ...(fastOnly ? [] : [{ name: 'system', files: all.filter((f) => !isFast(f)) }]),
    ].map((tier) => ({ ...tier, argv: [...options, ...tier.files] }));

/** One tier in one `node --test` (`argv`: its options and files); resolves to its exit code. */
function runTier(argv, env) {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--test',
        '--test-concurrency=1',
        // A net for a test that hangs, not a verdict on speed: the longest test (chaos) takes minutes on
        // a quiet machine and must still pass on one twice as slow.
        '--test-timeout=1200000',
        '--test-reporter=spec',
        ...argv,
      ],
      { stdio: 'inherit', env: { ...process.env, ...env } },
    );
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });
}

const files = (n) => `${n} file${n === 1 ? '' : 's'}`;
if (args.includes('--list')) {
  for (const tier of tiers)
    console.log(`${tier.name} (${files(tier.files.length)}):\n  ${tier.files.join('\n  ')}`);
  process.exit(0);
}

register();
const { prepareTestEnvironment } = await import('../test/support/environment.ts');

const started = Date.now();
const { server, env } = await prepareTestEnvironment((line) => console.error(`[setup] ${line}`));
const report = [];
let code = 0;
for (const tier of tiers) {
  if (code !== 0) {
    report.push(`${tier.name}: ${files(tier.files.length)} not run, as the tier before it failed`);
    continue;
  }
  console.error(`[npm test] ${tier.name} tier: ${files(tier.files.length)}`);
  const tierStarted = Date.now();
  code = tier.files.length ? await runTier(tier.argv, env) : 0;
  const seconds = ((Date.now() - tierStarted) / 1000).toFixed(0);
  report.push(`${tier.name}: ${files(tier.files.length)} ${code === 0 ? 'passed' : 'FAILED'} in ${seconds}s`);
}
await server.stop();
// The suite's slots (see prepareTestEnvironment): gone with it, best effort.
try {
  rmSync(env.AUTORESEARCH_SLOTS_DIR, { recursive: true, force: true });
} catch {
  // what cannot be removed stays in the system's temporary folder
}
for (const line of report) console.error(`[npm test] ${line}`);
console.error(`[npm test] ${((Date.now() - started) / 1000).toFixed(0)}s in all`);
process.exit(code);
