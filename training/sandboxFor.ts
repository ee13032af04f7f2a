// The sandbox and limits one run in a slot gets, from the target's [sandbox] and the slot. Candidate
// code (the training, the evaluation) sees only its worktree (frozen files and set-up outputs read-only)
// and no network; the set-up (the target's own commands, downloads) may reach the network and write its
// outputs. The target's [sandbox] may open the network to candidate code too, and show data kept elsewhere.
import { SANDBOX_DEFAULTS } from '../target/config';
import { sandboxArgs } from './sandbox';
import { limitsFor, scratchSizeMb, type SandboxLimits } from './sandboxLimits';
import type { SlotRun } from './slotRun';

/** What runs: the target's set-up commands, or candidate code (its training and its evaluation). */
export type RunUse = 'setup' | 'training';

/** bwrap and its arguments (none with the sandbox off), and the limits. */
export interface Confinement {
  sandbox: string[] | undefined;
  limits: SandboxLimits;
}

/**
 * Built when the run starts, not before: the set-up's sandbox creates the home's cache it may write.
 * Limits hold with the sandbox off too: a runaway training (a leak, a bomb) takes the machine either way,
 * and a training that fits them sandboxed fits them unsandboxed, so turning it off changes nothing else.
 */
export function sandboxFor(at: SlotRun, use: RunUse): Confinement {
  const { config } = at;
  const declared = config.sandbox;
  const setup = use === 'setup';
  const limits = limitsFor(declared ?? SANDBOX_DEFAULTS, use);
  const sandbox = at.sandboxed
    ? sandboxArgs({
        worktree: at.slot.worktree,
        gitCommonDir: at.repo.commonDir,
        network: setup || declared?.network === true,
        writableCache: setup,
        readPaths: declared?.readPaths,
        writePaths: declared?.writePaths,
        pathVariable: at.env.PATH,
        scratchMb: scratchSizeMb(limits),
        readOnlyInWorktree: setup
          ? config.files.frozen
          : [...config.files.frozen, ...(config.train.setupOutputs ?? [])],
      })
    : undefined;
  return { sandbox, limits };
}
