// `go install` of a Temporal program into a folder of the project's cache: how the CLI
// (cliProvisioning.ts) and the server with its SQL tool (serverProvisioning.ts) are built where only
// the Go module proxy is reachable. One place for what both builds need: finding Go, a line every 20 s
// saying what a long first build is doing, and one retry without the checksum database.
import { execa } from 'execa';
import { existsSync, mkdirSync } from 'node:fs';
import { findOnPath } from '../system/executables';

/** Go on PATH, or where the official tarball puts it (CI adds it to PATH; a shell may not). */
export function findGo(): string | null {
  return findOnPath('go') ?? (existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : null);
}

export interface GoInstallRequest {
  /** What is built, for the progress lines: "the Temporal CLI". */
  what: string;
  /** `module/path/cmd/x@version` arguments of one `go install`. */
  packages: string[];
  /** Where the binaries go (absolute). */
  gobin: string;
  log: (line: string) => void;
}

/** Runs `go install`; resolves to null when it worked, else go's last lines. */
export async function goInstall(go: string, request: GoInstallRequest): Promise<string | null> {
  const { what, packages, gobin, log } = request;
  mkdirSync(gobin, { recursive: true });
  log(`Building ${what} with Go (${packages.join(' ')}); the first time takes a few minutes...`);
  const started = Date.now();
  // go -v names each package as it builds it, and `go: downloading ...` each module: the last such line
  // is what the build is doing, said with the elapsed time every 20 s so a long first build looks alive.
  let doing = 'go has printed nothing yet (modules and packages come from its caches; then it links)';
  const every = Number(process.env.AUTORESEARCH_PROGRESS_EVERY_MS) || 20_000;
  const alive = setInterval(
    () => log(`still building ${what} (${elapsed(Date.now() - started)}): ${doing}`),
    every,
  );
  let result;
  try {
    result = await runGo(go, ['install', '-v', ...packages], {
      env: { GOBIN: gobin, GOFLAGS: '-buildvcs=false' },
      onStderr: (last) =>
        (doing = `go's last line: ${/^go: /.test(last) ? last.slice(4) : `compiled ${last}`}`),
    });
  } finally {
    clearInterval(alive);
  }
  if (result.exitCode !== 0) return result.stderr.trim().split('\n').slice(-3).join(' | ');
  log(`Built ${what} in ${elapsed(Date.now() - started)}`);
  return null;
}

/**
 * One go command, run again without the checksum database when go could not reach it (the module's own
 * go.sum still pins every dependency). `onStderr` sees each last line go prints.
 */
export async function runGo(
  go: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; onStderr?: (line: string) => void } = {},
) {
  const attempt = (extra: Record<string, string>) => {
    const child = execa(go, args, { env: { ...options.env, ...extra }, cwd: options.cwd, reject: false });
    child.stderr?.on('data', (chunk: Buffer) => {
      const last = chunk.toString().trim().split('\n').pop()?.trim();
      if (last) options.onStderr?.(last);
    });
    return child;
  };
  const result = await attempt({});
  return result.exitCode !== 0 && /sum\.golang\.org|checksum database|verifying module/i.test(result.stderr)
    ? attempt({ GOSUMDB: 'off' })
    : result;
}

/** 75_000 -> "1m15s". */
export function elapsed(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}
