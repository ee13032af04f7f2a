// A cgroup per training: the kernel's own bound on how many processes and how much memory a training's
// whole tree may hold (a fork bomb, a memory grab), and its list of every process in it, setsid or not,
// so that all of them are killed when the training ends. cgroup v2 (a tree where we may enable the pids
// and memory controllers for children) or cgroup v1 (one hierarchy per controller, writable as root).
// Where neither can be had, the caller says so once and trains without them.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Where the cgroup file systems are mounted; tests point it elsewhere to play a machine without them. */
export function cgroupRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.AUTORESEARCH_CGROUP_ROOT || '/sys/fs/cgroup';
}

/**
 * The trainings' cgroups sit in a group of their own at the top of each hierarchy, beside the worker's
 * rather than under it: cgroup v2 forbids enabling controllers below a group that holds processes (the
 * worker's does), and a fixed place lets the next worker find what a dead one left.
 */
const GROUP = 'autoresearch';

type Hierarchy = { version: 2; dir: string } | { version: 1; pids?: string; memory?: string; why?: string };

/** What this machine gives: the hierarchies found, or why none can be used. */
export type CgroupSupport = { ok: true; hierarchy: Hierarchy } | { ok: false; why: string };

const probed = new Map<string, CgroupSupport>();

/** Finds (once per root) where trainings' cgroups can be made. */
export function cgroupSupport(root = cgroupRoot()): CgroupSupport {
  let support = probed.get(root);
  if (!support) {
    support = probe(root);
    probed.set(root, support);
  }
  return support;
}

function probe(root: string): CgroupSupport {
  if (!existsSync(root)) return { ok: false, why: `no cgroup file system at ${root}` };
  const reasons: string[] = [];
  // A v2 tree: at the root (a pure v2 machine) or beside v1 hierarchies (a hybrid one).
  for (const dir of [root, path.join(root, 'unified')]) {
    const controllers = read(path.join(dir, 'cgroup.controllers'));
    if (controllers === null) continue;
    const missing = ['pids', 'memory'].filter((c) => !controllers.split(/\s+/).includes(c));
    if (missing.length > 0) {
      reasons.push(`cgroup v2 at ${dir} lacks the ${missing.join(' and ')} controller(s)`);
      continue;
    }
    try {
      const group = path.join(dir, GROUP);
      enableControllers(dir);
      mkdirSync(group, { recursive: true });
      enableControllers(group);
      return { ok: true, hierarchy: { version: 2, dir: group } };
    } catch (err) {
      reasons.push(
        `cannot enable pids and memory for child groups of ${dir} (${errorText(err)}): ` +
          'run the worker as root or in a cgroup delegated to it',
      );
    }
  }
  // v1: one hierarchy per controller; either alone still bounds what it bounds.
  const v1: { pids?: string; memory?: string } = {};
  for (const controller of ['pids', 'memory'] as const) {
    const dir = path.join(root, controller);
    if (!existsSync(path.join(dir, 'cgroup.procs'))) continue;
    try {
      mkdirSync(path.join(dir, GROUP), { recursive: true });
      v1[controller] = path.join(dir, GROUP);
    } catch (err) {
      reasons.push(`cannot create ${path.join(dir, GROUP)} (${errorText(err)}): run the worker as root`);
    }
  }
  if (v1.pids || v1.memory) {
    const missing = v1.pids ? 'memory' : 'pids';
    const why = v1.pids && v1.memory ? undefined : `no writable cgroup v1 ${missing} hierarchy under ${root}`;
    return { ok: true, hierarchy: { version: 1, ...v1, ...(why ? { why } : {}) } };
  }
  if (reasons.length === 0) reasons.push(`no pids or memory cgroup hierarchy under ${root}`);
  return { ok: false, why: reasons.join('; ') };
}

function enableControllers(dir: string): void {
  const enabled = read(path.join(dir, 'cgroup.subtree_control')) ?? '';
  const wanted = ['pids', 'memory'].filter((c) => !enabled.split(/\s+/).includes(c));
  if (wanted.length > 0)
    writeFileSync(path.join(dir, 'cgroup.subtree_control'), wanted.map((c) => `+${c}`).join(' '));
}

/** One training's cgroup(s): entered by the training before it runs, killed and removed after. */
export class TrainingCgroup {
  private constructor(
    /** The group's directories (one per v1 hierarchy, one for v2). */
    readonly dirs: string[],
    private readonly version: 1 | 2,
  ) {}

  /**
   * Makes the cgroup of one training of `label` (the slot) with these limits, after removing what a
   * dead worker left for the same label. Throws when the kernel refuses (the caller trains without).
   */
  static async create(
    hierarchy: Hierarchy,
    label: string,
    limits: { maxProcesses: number; memoryMb?: number },
  ): Promise<TrainingCgroup> {
    const safe = label.replace(/[^A-Za-z0-9_.-]/g, '_');
    const name = `${safe}-${process.pid}-${randomBytes(4).toString('hex')}`;
    const parents =
      hierarchy.version === 2
        ? [hierarchy.dir]
        : [hierarchy.pids, limits.memoryMb !== undefined ? hierarchy.memory : undefined].filter(
            (d): d is string => d !== undefined,
          );
    for (const parent of parents) await removeLeftovers(parent, safe, hierarchy.version);
    const group = new TrainingCgroup(
      parents.map((p) => path.join(p, name)),
      hierarchy.version,
    );
    try {
      for (const dir of group.dirs) {
        mkdirSync(dir);
        group.configure(dir, limits);
      }
    } catch (err) {
      group.removeNow();
      throw err;
    }
    return group;
  }

  private configure(dir: string, limits: { maxProcesses: number; memoryMb?: number }): void {
    const bytes = limits.memoryMb !== undefined ? String(limits.memoryMb * 2 ** 20) : undefined;
    if (this.version === 2) {
      writeFileSync(path.join(dir, 'pids.max'), String(limits.maxProcesses));
      if (bytes) {
        writeFileSync(path.join(dir, 'memory.max'), bytes);
        // Swap would let a grab go on past the limit, slowly, and take the machine's swap with it.
        if (existsSync(path.join(dir, 'memory.swap.max')))
          writeFileSync(path.join(dir, 'memory.swap.max'), '0');
      }
    } else if (existsSync(path.join(dir, 'pids.max'))) {
      writeFileSync(path.join(dir, 'pids.max'), String(limits.maxProcesses));
    } else if (bytes) {
      writeFileSync(path.join(dir, 'memory.limit_in_bytes'), bytes);
      // Memory plus swap (present where swap is accounted): the same bound, so no swap at all.
      if (existsSync(path.join(dir, 'memory.memsw.limit_in_bytes')))
        writeFileSync(path.join(dir, 'memory.memsw.limit_in_bytes'), bytes);
    }
  }

  /** The files a process writes its pid to, to enter this cgroup (its children then are in it too). */
  get procsFiles(): string[] {
    return this.dirs.map((d) => path.join(d, 'cgroup.procs'));
  }

  /** The limit the kernel enforced on this training, if it had to: the OOM killer, or a refused fork. */
  limitHit(): 'memory' | 'processes' | undefined {
    let memory = false;
    let processes = false;
    for (const dir of this.dirs) {
      // v2: memory.events; v1: memory.oom_control (oom_kill since Linux 4.13). pids.events in both.
      const oom =
        counter(read(path.join(dir, 'memory.events')), 'oom_kill') ??
        counter(read(path.join(dir, 'memory.oom_control')), 'oom_kill');
      if ((oom ?? 0) > 0) memory = true;
      if ((counter(read(path.join(dir, 'pids.events')), 'max') ?? 0) > 0) processes = true;
    }
    return memory ? 'memory' : processes ? 'processes' : undefined;
  }

  /** Kills every process left in the cgroup (a fork bomb keeps forking) and removes it. */
  async destroy(): Promise<void> {
    for (const dir of this.dirs) await killAll(dir, this.version);
    await removeDirs(this.dirs);
  }

  private removeNow(): void {
    for (const dir of this.dirs)
      try {
        rmdirSync(dir);
      } catch {
        // never made, or not empty: the next training of this slot removes it
      }
  }
}

/** Removes the groups of `label` whose worker is gone (their names hold its pid). */
async function removeLeftovers(parent: string, label: string, version: 1 | 2): Promise<void> {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    const match = /^(.*)-(\d+)-[^-]+$/.exec(name);
    if (!match || match[1] !== label) continue;
    if (Number(match[2]) !== process.pid && alive(Number(match[2]))) continue;
    if (Number(match[2]) === process.pid && activeHere.has(path.join(parent, name))) continue;
    const dir = path.join(parent, name);
    await killAll(dir, version);
    await removeDirs([dir]);
  }
}

/** The cgroups this process's trainings use now (never taken for leftovers). */
const activeHere = new Set<string>();

export function markActive(group: TrainingCgroup, active: boolean): void {
  for (const dir of group.dirs) {
    if (active) activeHere.add(dir);
    else activeHere.delete(dir);
  }
}

async function killAll(dir: string, version: 1 | 2): Promise<void> {
  // v2 has one write for it (Linux 5.14); else no new process may start (pids.max 0), then kill until empty.
  if (version === 2 && existsSync(path.join(dir, 'cgroup.kill')))
    tryWrite(path.join(dir, 'cgroup.kill'), '1');
  if (existsSync(path.join(dir, 'pids.max'))) tryWrite(path.join(dir, 'pids.max'), '0');
  const deadline = Date.now() + 10_000;
  for (;;) {
    const pids = (read(path.join(dir, 'cgroup.procs')) ?? '').split('\n').filter(Boolean).map(Number);
    if (pids.length === 0 || Date.now() > deadline) return;
    for (const pid of pids)
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    await sleep(10);
  }
}

/** rmdir, retried a moment: a killed process leaves its cgroup only once the kernel has reaped it. */
async function removeDirs(dirs: string[]): Promise<void> {
  const deadline = Date.now() + 5000;
  for (const dir of dirs) {
    for (;;) {
      try {
        rmdirSync(dir);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || Date.now() > deadline) break;
        await sleep(10);
      }
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `name N` in a cgroup's flat keyed file (memory.events, pids.events, memory.oom_control). */
function counter(text: string | null, name: string): number | undefined {
  const match = text === null ? null : new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

function read(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

function tryWrite(file: string, text: string): void {
  try {
    writeFileSync(file, text);
  } catch {
    // the kill loop that follows does the work
  }
}

function errorText(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
