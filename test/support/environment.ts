// What `npm test` sets up before the tests run: the Temporal CLI, uv and bubblewrap (installed if missing), and one
// dev server for the whole suite (tests that restart a server start their own).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startDevServer, type DevServer } from '../../temporal/devServer';
import { ensureUv } from '../../target/pythonTools';
import { ensureBubblewrap } from '../../training/sandbox';
import { ensureTemporalCli } from '../../temporal/cliProvisioning';
import { freePort } from './temporal';

export interface TestEnvironment {
  server: DevServer;
  env: Record<string, string>;
}

export async function prepareTestEnvironment(log: (line: string) => void): Promise<TestEnvironment> {
  const cli = await ensureTemporalCli(log);
  log(cli ? `temporal CLI: ${cli}` : 'temporal CLI: none; the SDK download is the fallback');
  const uvPath = await ensureUv(log);
  log(`bubblewrap: ${(await ensureBubblewrap(log)) ?? 'missing: the sandbox tests will fail'}`);
  const db = path.join(mkdtempSync(path.join(tmpdir(), 'ar-test-server-')), 'temporal.sqlite');
  const server = await startDevServer({ port: freePort(), dbFile: db, headless: true, log });
  log(`test server: ${server.address}`);
  const env: Record<string, string> = { TEMPORAL_ADDRESS: server.address };
  if (uvPath.length) env.PATH = [...uvPath, process.env.PATH ?? ''].join(path.delimiter);
  if (cli) env.AUTORESEARCH_TEMPORAL_CLI = cli;
  // The suite's slots (worktrees, .venvs) in a scratch folder of its own, removed when it ends, not
  // piling up in the developer's ~/.autoresearch run after run.
  env.AUTORESEARCH_SLOTS_DIR = mkdtempSync(path.join(tmpdir(), 'ar-test-slots-'));
  return { server, env };
}
