// Supervisors started ahead, one per slot: a slot's next training starts under a supervisor that is
// already running, so Node's start-up (40-60 ms on a quiet machine, 100-200 ms on a busy one) is not in
// the gap between two trainings. Each waits, doing nothing, for its run on stdin (training/supervisor.js);
// a worker that goes away closes that pipe, and a supervisor never given a run then exits at once.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SUPERVISOR = fileURLToPath(new URL('./supervisor.js', import.meta.url));

/**
 * A supervisor process, waiting for its run. Its own environment is empty, and its command line names
 * only the script: the run, the training's environment included, comes on stdin. The training it starts
 * cannot find the worker's secrets in its parent's /proc entries.
 */
export function spawnSupervisor(): ChildProcess {
  return spawn(process.execPath, [SUPERVISOR], {
    cwd: '/',
    env: {},
    detached: true,
    // fd 3: the supervisor says there which limit it enforced itself (the disk); the training never has it.
    stdio: ['pipe', 'ignore', 'ignore', 'pipe'],
  });
}

/** Whether a supervisor started ahead can still take a run (it may have been killed while it waited). */
function waiting(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

/** Holds the process, or lets the worker exit while it waits. */
function holdOpen(child: ChildProcess, hold: boolean): void {
  for (const handle of [child, child.stdin, child.stdio[3]] as { ref?(): void; unref?(): void }[])
    if (hold) handle?.ref?.();
    else handle?.unref?.();
}

export class SupervisorStandby {
  private ahead = new Map<string, ChildProcess>();

  /**
   * The supervisor for the run starting now in `slot`: the one started ahead, if it is still waiting,
   * else a new one. Another is started for the slot's next run.
   */
  take(slot: string): ChildProcess {
    const ready = this.ahead.get(slot);
    this.ahead.delete(slot);
    const child = ready && waiting(ready) ? ready : spawnSupervisor();
    if (ready && ready !== child) ready.kill('SIGKILL');
    holdOpen(child, true);
    this.startAhead(slot);
    return child;
  }

  /** Ends every supervisor still waiting (a worker that stops; one that dies ends them by closing their stdin). */
  close(): void {
    for (const child of this.ahead.values()) child.kill('SIGKILL');
    this.ahead.clear();
  }

  private startAhead(slot: string): void {
    const child = spawnSupervisor();
    // A supervisor that could not start says so when it is taken (its run fails with the reason).
    child.on('error', () => {});
    child.stdin?.on('error', () => {});
    holdOpen(child, false);
    this.ahead.set(slot, child);
  }
}
