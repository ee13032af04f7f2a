// Finds or installs the Temporal CLI, which embeds the dev server and the Web UI. In order: an
// explicit AUTORESEARCH_TEMPORAL_CLI, `temporal` on PATH, the project's cache, a `go install` into that
// cache (Go >= 1.25; works where only the Go module proxy is reachable). The caller falls back to the
// SDK's own download when all of these fail and the internet is reachable. Idempotent.
import { execa } from 'execa';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { findOnPath, isExecutable } from '../system/executables';
import { homePath } from '../system/home';

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
  const go = findOnPath('go') ?? (existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : null);
  if (!go) return null;
  const bin = path.dirname(cachedTemporalCli());
  mkdirSync(bin, { recursive: true });
  log(`Building the Temporal CLI with Go (${TEMPORAL_CLI_MODULE}); the first time takes a few minutes...`);
  const started = Date.now();
  // go -v names each package as it builds it, and `go: downloading ...` each module: the last such line
  // is what the build is doing, said with the elapsed time every 20 s so a long first build looks alive.
  let doing = 'go has printed nothing yet (modules and packages come from its caches; then it links)';
  const every = Number(process.env.AUTORESEARCH_PROGRESS_EVERY_MS) || 20_000;
  const alive = setInterval(
    () => log(`still building the Temporal CLI (${elapsed(Date.now() - started)}): ${doing}`),
    every,
  );
  const attempt = async (extra: Record<string, string>) => {
    const child = execa(go, ['install', '-v', TEMPORAL_CLI_MODULE], {
      env: { GOBIN: bin, GOFLAGS: '-buildvcs=false', ...extra },
      reject: false,
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      const last = chunk.toString().trim().split('\n').pop()?.trim();
      if (last) doing = `go's last line: ${/^go: /.test(last) ? last.slice(4) : `compiled ${last}`}`;
    });
    return child;
  };
  let result;
  try {
    result = await attempt({});
    // Without the checksum database, the CLI's own go.sum still pins every dependency.
    if (result.exitCode !== 0 && /sum\.golang\.org|checksum database|verifying module/i.test(result.stderr))
      result = await attempt({ GOSUMDB: 'off' });
  } finally {
    clearInterval(alive);
  }
  if (result.exitCode !== 0) {
    log(`go install failed: ${result.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    return null;
  }
  log(`Built the Temporal CLI in ${elapsed(Date.now() - started)}: ${cachedTemporalCli()}`);
  return isExecutable(cachedTemporalCli()) ? cachedTemporalCli() : null;
}

/** 75_000 -> "1m15s". */
export function elapsed(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

export const NO_TEMPORAL_CLI_HELP =
  'No Temporal CLI found and none could be installed. Options: install Go >= 1.25 and run `npm run setup` ' +
  `(it runs \`go install ${TEMPORAL_CLI_MODULE}\`), put a \`temporal\` binary on PATH, ` +
  'set AUTORESEARCH_TEMPORAL_CLI=/path/to/temporal, or point TEMPORAL_ADDRESS at a running Temporal server.';
