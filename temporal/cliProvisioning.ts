// Finds or installs the Temporal CLI, which embeds the dev server and the Web UI. In order: an
// explicit AUTORESEARCH_TEMPORAL_CLI, `temporal` on PATH, the project's cache, a `go install` into that
// cache (Go >= 1.25; works where only the Go module proxy is reachable). The caller falls back to the
// SDK's own download when all of these fail and the internet is reachable. Idempotent.
import path from 'node:path';
import { findOnPath, isExecutable } from '../system/executables';
import { homePath } from '../system/home';
import { findGo, goInstall } from './goInstall';

export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';

export function cachedTemporalCli(): string {
  return homePath('bin', 'temporal');
}

/** The CLI if one is already here (no install). */
export function findTemporalCli(): string | null {
  const explicit = process.env.AUTORESEARCH_TEMPORAL_CLI;
  if (explicit) {
    if (!isExecutable(explicit))
      throw new Error(
        `AUTORESEARCH_TEMPORAL_CLI=${explicit} is not an executable file: fix the path or unset it.`,
      );
    return explicit;
  }
  return findOnPath('temporal') ?? (isExecutable(cachedTemporalCli()) ? cachedTemporalCli() : null);
}

/** Finds the CLI or builds it with Go; returns null when neither works (the SDK download is the caller's fallback). */
export async function ensureTemporalCli(log: (line: string) => void = () => {}): Promise<string | null> {
  const found = findTemporalCli();
  if (found) return found;
  const go = findGo();
  if (!go) return null;
  const failed = await goInstall(go, {
    what: 'the Temporal CLI',
    packages: [TEMPORAL_CLI_MODULE],
    gobin: path.dirname(cachedTemporalCli()),
    log,
  });
  if (failed) {
    log(`go install failed: ${failed}`);
    return null;
  }
  log(`the Temporal CLI: ${cachedTemporalCli()}`);
  return isExecutable(cachedTemporalCli()) ? cachedTemporalCli() : null;
}

export const NO_TEMPORAL_CLI_HELP =
  'No Temporal CLI found and none could be installed. Options: install Go >= 1.25 and run `npm run setup` ' +
  `(it runs \`go install ${TEMPORAL_CLI_MODULE}\`), put a \`temporal\` binary on PATH, ` +
  'set AUTORESEARCH_TEMPORAL_CLI=/path/to/temporal, or point TEMPORAL_ADDRESS at a running Temporal server.';
