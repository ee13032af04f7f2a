// Starting and connecting: a connection to a server that may still be starting is retried with backoff
// for a bounded time; an error still says what really failed (a hint beside it, never instead of it); a
// start that fails stops what it started.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { connectClient, temporalSettings, withConnectRetry } from '../temporal/connection';
import type { DevServer } from '../temporal/devServer';
import { autoresearchHome, homePath } from '../system/home';
import { freshEnv, portIsFree, processesNaming, runCli } from './support/freshMachine';
import { AUTORESEARCH_CLI } from './support/commandLines';
import { freePort, startOwnServer } from './support/temporal';
import { waitFor } from './support/waitFor';

const CLI = fileURLToPath(new URL('../bin/autoresearch.js', import.meta.url));

function settingsFor(address: string) {
  const settings = temporalSettings();
  return { ...settings, address, connectionOptions: { ...settings.connectionOptions, address } };
}

describe('connecting while a server starts', () => {
  it('a client retries until a server started after its first try answers', async () => {
    const port = freePort();
    let server: DevServer | undefined;
    let serverStarting: Promise<DevServer> | undefined;
    const tries: string[] = [];
    const client = await connectClient(settingsFor(`127.0.0.1:${port}`), {
      retryForMs: 600_000,
      // Called on the first failed try: only then does the server start.
      log: (line) => {
        tries.push(line);
        serverStarting ??= startOwnServer(undefined, port);
      },
    });
    try {
      server = await serverStarting;
      await client.workflowService.getSystemInfo({});
      assert.equal(tries.length, 1, 'the first failure is said once');
      assert.match(
        tries[0]!,
        new RegExp(`No Temporal server answers at 127\\.0\\.0\\.1:${port} yet: .+; trying again`),
      );
    } finally {
      await client.connection.close();
      await server?.stop();
    }
  });

  it('an error that is not about reaching the server is thrown at once, as it was', async () => {
    let calls = 0;
    await assert.rejects(
      withConnectRetry(
        'x',
        async () => {
          calls++;
          throw new Error('PERMISSION_DENIED: bad API key');
        },
        { retryForMs: 600_000 },
      ),
      /^Error: PERMISSION_DENIED: bad API key$/,
    );
    assert.equal(calls, 1);
  });

  it('after its bound the last connection error is thrown unchanged', async () => {
    const refused = async () => {
      calls++;
      throw new Error('tcp connect error: Connection refused (os error 111)');
    };
    const said = /^Error: tcp connect error: Connection refused \(os error 111\)$/;
    let calls = 0;
    await assert.rejects(withConnectRetry('x', refused), said);
    assert.equal(calls, 1, 'no retry without a bound');
    calls = 0;
    // With a bound: tried again (0.25 s, then 0.5 s ...) until the next pause would pass it, then as it was.
    await assert.rejects(withConnectRetry('x', refused, { retryForMs: 3000 }), said);
    assert.ok(calls >= 2, `tried again within the bound (${calls} tries)`);
  });

  it("the CLI keeps the connection error's own words and adds the hint beside them", async () => {
    const port = freePort();
    const home = mkdtempSync(path.join(tmpdir(), 'ar-noserver-'));
    const failed = await promisify(execFile)(process.execPath, [CLI, 'status'], {
      env: { ...process.env, AUTORESEARCH_HOME: home, TEMPORAL_ADDRESS: `127.0.0.1:${port}` },
    }).then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    assert.ok(failed, 'status without a server fails');
    assert.equal(failed.code, 1);
    const lines = failed.stderr.trim().split('\n');
    assert.doesNotMatch(lines[0]!, /No Temporal server answers/, 'the first line is the error as it came');
    assert.match(lines[0]!, /^autoresearch: .*(connect|refused|deadline)/i);
    assert.match(
      failed.stderr,
      new RegExp(`autoresearch: No Temporal server answers at 127\\.0\\.0\\.1:${port}: start one with`),
    );
  });
});

describe('a start that fails', () => {
  it('demo whose example cannot be written exits 1 naming the cause, and stops the server it started', async () => {
    const home = mkdtempSync(path.join(tmpdir(), 'ar-failed-home-'));
    // The demo's target goes to <home>/demo/tinylm: a file in the way makes that fail after the server is up.
    writeFileSync(path.join(home, 'demo'), 'not a folder\n');
    const port = freePort();
    const env = freshEnv(home, port);
    env.AUTORESEARCH_TEMPORAL_CLI = process.env.AUTORESEARCH_TEMPORAL_CLI;
    const { code, stderr } = await runCli(['demo', '--max-experiments', '1', '--budget', '3'], env);
    assert.equal(code, 1, stderr);
    assert.match(stderr, /autoresearch: .*(ENOTDIR|EEXIST|not a directory)/i, 'the real cause, as it was');
    assert.doesNotMatch(stderr, /No Temporal server answers/);
    assert.deepEqual(processesNaming(home), [], 'the dev server it started is stopped');
    assert.ok(await portIsFree(port), `port ${port} is free again`);
  });

  it("a dev server that cannot bind its port (another program holds it) exits 1 with the server's own reason", async () => {
    const home = mkdtempSync(path.join(tmpdir(), 'ar-busy-home-'));
    mkdirSync(path.join(home, 'x'));
    const port = freePort();
    const sockets = new Set<Socket>();
    const squatter: Server = createServer((socket) => {
      sockets.add(socket.on('error', () => {}));
    });
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    try {
      const env = freshEnv(home, port);
      env.AUTORESEARCH_TEMPORAL_CLI = process.env.AUTORESEARCH_TEMPORAL_CLI;
      const { code, stderr } = await runCli(
        ['server', '--headless', '--db', path.join(home, 'x', 't.sqlite')],
        env,
      );
      assert.equal(code, 1, stderr);
      assert.match(stderr, /address already in use/i, "the server's own words");
      assert.deepEqual(processesNaming(home), [], 'nothing it started is left');
    } finally {
      for (const socket of sockets) socket.destroy();
      squatter.close();
    }
  });
});

describe('a demo killed with SIGKILL', () => {
  it('takes the dev server it started down with it', async () => {
    const home = mkdtempSync(path.join(tmpdir(), 'ar-killed-home-'));
    const port = freePort();
    const env = freshEnv(home, port);
    env.AUTORESEARCH_TEMPORAL_CLI = process.env.AUTORESEARCH_TEMPORAL_CLI;
    const demo = spawn(
      process.execPath,
      [AUTORESEARCH_CLI, 'demo', '--max-experiments', '1', '--budget', '3'],
      {
        env,
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    let stdout = '';
    demo.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise((resolve) => demo.once('exit', resolve));
    // The server is up and the run started: then the demo dies without a chance to clean up.
    await waitFor(
      'the demo to start its run',
      () => (/autoresearch demo: run/.test(stdout) ? true : undefined),
      600_000,
    );
    assert.ok(
      processesNaming(home).some((cmd) => /server start-dev/.test(cmd)),
      'the demo started a server',
    );
    demo.kill('SIGKILL');
    await exited;
    await waitFor(
      'the dev server to be gone',
      () => (processesNaming(home).length === 0 ? true : undefined),
      600_000,
    );
    assert.ok(await portIsFree(port), `port ${port} is free again`);
  });
});

describe('AUTORESEARCH_HOME', () => {
  it('a relative home is taken from the current folder (go install refuses a relative GOBIN)', async () => {
    const saved = process.env.AUTORESEARCH_HOME;
    process.env.AUTORESEARCH_HOME = 'rel-home';
    try {
      assert.equal(autoresearchHome(), path.resolve('rel-home'));
      assert.equal(homePath('bin', 'temporal'), path.resolve('rel-home', 'bin', 'temporal'));
    } finally {
      if (saved === undefined) delete process.env.AUTORESEARCH_HOME;
      else process.env.AUTORESEARCH_HOME = saved;
    }
  });
});
