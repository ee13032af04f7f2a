// Finds or builds the Temporal server (temporal-server) and its SQL tool (temporal-sql-tool): what runs
// a self-hosted Temporal on PostgreSQL without Docker (README, deploy/temporal/), and what
// test/postgresCluster.test.ts runs. Built like the CLI (goInstall.ts: `go install` into the project's
// cache, ~/.autoresearch/bin) and at the server version the pinned CLI is built against, so the Go module
// and build caches the CLI's build filled serve most of this one too.
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { isExecutable } from '../system/executables';
import { homePath } from '../system/home';
import { TEMPORAL_CLI_MODULE } from './cliProvisioning';
import { findGo, goInstall, runGo } from './goInstall';

/**
 * go.temporal.io/server's version in the go.mod of the CLI that TEMPORAL_CLI_MODULE pins (v1.5.1 needs
 * v1.29.1). Bump the two together: test/postgresCluster.test.ts fails when they part.
 */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
const SERVER_MODULE = 'go.temporal.io/server';

/** Each binary, by the name it is kept under, and its package (go install names a binary after its folder). */
const PROGRAMS = { 'temporal-server': 'cmd/server', 'temporal-sql-tool': 'cmd/tools/sql' } as const;

export interface TemporalServerBinaries {
  server: string;
  sqlTool: string;
}

export function cachedTemporalServer(): TemporalServerBinaries {
  return { server: homePath('bin', 'temporal-server'), sqlTool: homePath('bin', 'temporal-sql-tool') };
}

/** The cached binaries if both are there at TEMPORAL_SERVER_VERSION (after a bump they are built again). */
export async function findTemporalServer(): Promise<TemporalServerBinaries | null> {
  const cached = cachedTemporalServer();
  for (const binary of [cached.server, cached.sqlTool]) {
    if (!isExecutable(binary)) return null;
    // Both print "<name> version 1.29.1".
    const { stdout } = await execa(binary, ['--version'], { reject: false });
    if (stdout.trim().split(/\s+/).pop() !== TEMPORAL_SERVER_VERSION.replace(/^v/, '')) return null;
  }
  return cached;
}

/** The binaries, built with Go if need be; throws naming what is missing and how to get it. */
export async function ensureTemporalServer(
  log: (line: string) => void = () => {},
): Promise<TemporalServerBinaries> {
  const found = await findTemporalServer();
  if (found) return found;
  const go = findGo();
  if (!go) throw new Error(`${NO_TEMPORAL_SERVER_HELP} (no \`go\` on PATH or in /usr/local/go/bin)`);
  const bin = path.dirname(cachedTemporalServer().server);
  // Built into a folder of its own inside the cache, then renamed in (one file system): a build killed
  // halfway leaves no half-written binary under the names findTemporalServer trusts.
  mkdirSync(bin, { recursive: true });
  const staging = mkdtempSync(path.join(bin, '.build-'));
  try {
    const failed = await goInstall(go, {
      what: 'the Temporal server and temporal-sql-tool',
      packages: Object.values(PROGRAMS).map((pkg) => `${SERVER_MODULE}/${pkg}@${TEMPORAL_SERVER_VERSION}`),
      gobin: staging,
      log,
    });
    if (failed) throw new Error(`${NO_TEMPORAL_SERVER_HELP} (go install failed: ${failed})`);
    for (const [name, pkg] of Object.entries(PROGRAMS))
      renameSync(path.join(staging, path.basename(pkg)), path.join(bin, name));
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  const built = await findTemporalServer();
  if (!built)
    throw new Error(
      `${NO_TEMPORAL_SERVER_HELP} (the build left no binary at ${TEMPORAL_SERVER_VERSION} in ${bin})`,
    );
  log(`temporal-server and temporal-sql-tool: ${bin}`);
  return built;
}

/**
 * The go.temporal.io/server version the pinned CLI's go.mod requires, read from Go's module cache
 * (`go mod download` fetches the CLI's module if need be).
 */
export async function serverVersionTheCliRequires(): Promise<string> {
  const go = findGo();
  if (!go) throw new Error('no `go` on PATH or in /usr/local/go/bin');
  const [pkg, version] = TEMPORAL_CLI_MODULE.split('@');
  const cliModule = `${pkg!.replace(/\/cmd\/temporal$/, '')}@${version}`;
  // Outside any module (the project has no go.mod; tmpdir has none either).
  const result = await runGo(go, ['mod', 'download', '-json', cliModule], { cwd: tmpdir() });
  if (result.exitCode !== 0) throw new Error(`go mod download ${cliModule} failed: ${result.stderr.trim()}`);
  const { GoMod } = JSON.parse(result.stdout) as { GoMod: string };
  const required = new RegExp(`^\\s*${SERVER_MODULE.replace(/\./g, '\\.')} (v\\S+)`, 'm').exec(
    readFileSync(GoMod, 'utf8'),
  );
  if (!required) throw new Error(`${GoMod} does not require ${SERVER_MODULE}`);
  return required[1]!;
}

export const NO_TEMPORAL_SERVER_HELP =
  `The Temporal server (${SERVER_MODULE} ${TEMPORAL_SERVER_VERSION}: temporal-server and temporal-sql-tool) is ` +
  'not in ~/.autoresearch/bin and could not be built there: install Go >= 1.25 (https://go.dev/dl/; the ' +
  `tarball's /usr/local/go is found without PATH) and it is built with \`go install ${SERVER_MODULE}/cmd/server@${TEMPORAL_SERVER_VERSION}\` ` +
  'on first use (a few minutes)';
