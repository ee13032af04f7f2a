#!/usr/bin/env node
// `npm test`: set up what the tests need (Temporal CLI, uv, one dev server), then run every
// test/**/*.test.ts (test/attacks/ ... included, test/support/ holds no tests) with Node's test runner,
// one file at a time (they train real models on 2 cores).
// Pass file names to run only those: npm test -- test/rules.test.ts
import { spawn } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { register } from 'tsx/esm/api';

register();
const { prepareTestEnvironment } = await import('../test/support/environment.ts');

const chosen = process.argv.slice(2);
const files = chosen.length
  ? chosen
  : readdirSync(new URL('../test', import.meta.url), { recursive: true })
      .map((f) => f.split('\\').join('/'))
      .filter((f) => f.endsWith('.test.ts'))
      .sort()
      .map((f) => `test/${f}`);

const started = Date.now();
const { server, env } = await prepareTestEnvironment((line) => console.error(`[setup] ${line}`));
const code = await new Promise((resolve) => {
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
      ...files,
    ],
    { stdio: 'inherit', env: { ...process.env, ...env } },
  );
  child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
});
await server.stop();
// The suite's slots (see prepareTestEnvironment): gone with it, best effort.
try {
  rmSync(env.AUTORESEARCH_SLOTS_DIR, { recursive: true, force: true });
} catch {
  // what cannot be removed stays in the system's temporary folder
}
console.error(`[npm test] ${((Date.now() - started) / 1000).toFixed(0)}s in all`);
process.exit(code);
