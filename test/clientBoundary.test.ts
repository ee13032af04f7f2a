// The client side never loads the worker: client.ts and the CLI as it starts reach no worker.ts, no activity,
// no worker SDK (scripts/check-client-imports.ts, run by `npm run typecheck`). Before issue 15 client.ts
// imported worker.ts for the queue names; the probe below is that import, and the check must name it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function check(...entries: string[]): Promise<{ code: number; output: string }> {
  return promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'scripts/check-client-imports.ts', ...entries],
    { cwd: ROOT },
  ).then(
    ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      output: error.stdout + error.stderr,
    }),
  );
}

describe('the client never loads the worker', () => {
  it('holds for client.ts and for the CLI as it starts (every command)', async () => {
    const { code, output } = await check();
    assert.equal(code, 0, output);
    assert.match(output, /client imports: \d+ entries, \d+ files, none of the worker's/);
  });

  it("fails naming the chain when a client module imports the worker's code", async () => {
    const probe = path.join(ROOT, `probeClient${process.pid}.ts`);
    writeFileSync(
      probe,
      "import './client';\nimport { createWorkers } from './worker';\nexport const w = createWorkers;\n",
    );
    try {
      const { code, output } = await check(probe);
      assert.equal(code, 1, output);
      const name = path.basename(probe);
      assert.ok(output.includes(`the client loads the worker's code: ${name} -> worker.ts\n`), output);
      assert.ok(output.includes(`${name} -> worker.ts -> @temporalio/worker`), output);
      assert.ok(output.includes('-> activities/index.ts -> activities/train.ts'), output);
    } finally {
      rmSync(probe, { force: true });
    }
  });
});
