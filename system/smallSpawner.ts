// Short commands (git, the edit gate's Python) started by a small helper process (spawnHelper.js)
// instead of by this one: a fork from a worker holding its workflows costs its event loop tens of
// milliseconds a start, from the helper about one (`npm run bench -- --only scaling` at 64 slots spent
// half of the control worker's time in starts before this). One helper per process, started on first
// use, kept off the event loop's count while nothing waits on it; a helper that dies fails only the
// commands it was running, with that said, and the next command starts a new one.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const HELPER = fileURLToPath(new URL('./spawnHelper.js', import.meta.url));

export interface SmallCommand {
  cwd: string;
  env: Record<string, string>;
  /** Written to the command's stdin (which is closed right away without it). */
  input?: string;
  maxBuffer: number;
}

/** How a command ended: its output, its exit code or signal, or why it did not run (Node's own error). */
export interface SmallResult {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: string | null;
  /** Not started (ENOENT, EACCES), or stopped for printing more than maxBuffer: Node's error. */
  error?: Error & { code?: string | null };
}

interface Answer {
  id: number;
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: string | null;
  error?: { message: string; code: string | null; syscall: string | null };
}

interface Pending {
  resolve: (result: SmallResult) => void;
  reject: (err: Error) => void;
}

class Helper {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  exited = false;

  constructor() {
    // Nothing of this process's environment: every command comes with the environment it gets.
    this.child = spawn(process.execPath, [HELPER], { stdio: ['pipe', 'pipe', 'inherit'], cwd: '/', env: {} });
    this.child.stdin!.on('error', () => {});
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.answered(line));
    this.child.on('error', (err) => this.gone(`could not start the command helper (${err.message})`));
    this.child.on('exit', (code, signal) =>
      this.gone(`the command helper exited (${signal ? `signal ${signal}` : `exit ${code}`})`),
    );
    this.holdOpen(false);
  }

  run(file: string, args: string[], command: SmallCommand): Promise<SmallResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.holdOpen(true);
      this.child.stdin!.write(`${JSON.stringify({ id, file, args, ...command })}\n`);
    });
  }

  private answered(line: string): void {
    const answer = JSON.parse(line) as Answer;
    const waiting = this.pending.get(answer.id);
    if (!waiting) return;
    this.pending.delete(answer.id);
    if (this.pending.size === 0) this.holdOpen(false);
    const { stdout, stderr, exitCode, signal } = answer;
    const result: SmallResult = { stdout, stderr, exitCode, signal };
    if (answer.error)
      result.error = Object.assign(new Error(answer.error.message), {
        code: answer.error.code,
        syscall: answer.error.syscall,
      });
    waiting.resolve(result);
  }

  private gone(why: string): void {
    this.exited = true;
    for (const { reject } of this.pending.values())
      reject(new Error(`${why} while a command it started was running; the command's outcome is unknown`));
    this.pending.clear();
  }

  /** The helper keeps this process alive only while a command is running. */
  private holdOpen(hold: boolean): void {
    for (const handle of [this.child, this.child.stdin, this.child.stdout] as {
      ref?(): void;
      unref?(): void;
    }[])
      if (hold) handle?.ref?.();
      else handle?.unref?.();
  }
}

/** This process's environment, for a command that gets all of it (the caller's own tools, not a candidate's). */
export function ownEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env[name] = value;
  return env;
}

let helper: Helper | null = null;

/** Runs `file args` through the helper; resolves however it ended (a non-zero exit is not a rejection). */
export function runSmall(file: string, args: string[], command: SmallCommand): Promise<SmallResult> {
  if (!helper || helper.exited) helper = new Helper();
  return helper.run(file, args, command);
}
