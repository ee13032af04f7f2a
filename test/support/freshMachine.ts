// A fresh machine for the CLI, as far as this project knows: an empty AUTORESEARCH_HOME, the server on a
// port of its own; and what a test looks at afterwards (what is still running, whether the port is free).
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { AUTORESEARCH_CLI } from './commandLines';
import { isRunning } from './processes';

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to its end (no time limit of its own: the test's timeout is the bound). */
export function runCli(args: string[], env: Record<string, string | undefined>): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AUTORESEARCH_CLI, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A fresh machine as far as this project knows: an empty home, no CLI named, the server on its own port. */
export function freshEnv(home: string, port: number): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    AUTORESEARCH_HOME: home,
    TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
    CI: 'true',
    ANTHROPIC_API_KEY: '',
    // The build says it is alive this often (20 s by default); a Go build of the CLI takes far longer.
    AUTORESEARCH_PROGRESS_EVERY_MS: '1000',
  };
  delete env.AUTORESEARCH_TEMPORAL_CLI;
  delete env.AUTORESEARCH_TEMPORAL_DB;
  return env;
}

/** Live processes whose command line names `needle` (the home folder: the dev server's --db-filename). */
export function processesNaming(needle: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmdline.includes(needle) && !cmdline.includes('firstRun.test') && isRunning(Number(pid)))
        found.push(cmdline);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

export function cpuHogs(n: number): ChildProcess[] {
  return Array.from({ length: n }, () => spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
}

export async function stopAll(children: ChildProcess[]) {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGKILL');
        }),
    ),
  );
}
