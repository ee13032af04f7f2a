// A run of the target's commands in a slot (its set-up, the training, the evaluation): in the slot's
// worktree, with the training environment, reaped through the slot's pid file, cancelled with the activity.
import type { TargetConfig } from '../common/types';
import type { Repo } from '../store/git';
import { trainingEnv, type TrainingEnvOptions } from './environment';
import { runSupervised, type SupervisedResult, type SupervisedRun } from './runSupervised';
import { freshPycachePrefix, type Slot } from './slot';
import type { SupervisorStandby } from './supervisorStandby';

/** Where a slot's runs happen and what they share: one training's set-up, training and evaluation. */
export interface SlotRun {
  repo: Repo;
  slot: Slot;
  config: TargetConfig;
  env: NodeJS.ProcessEnv;
  cancel: AbortSignal;
  /** Whether this worker sandboxes candidate code (its operator's choice, never a run's). */
  sandboxed: boolean;
  /** The worker's supervisors started ahead: a run starts under the slot's, without waiting for Node. */
  standby?: SupervisorStandby;
}

export interface SlotRunOptions extends TrainingEnvOptions {
  /** The seed's variables (training/seededCommand.ts). */
  seeded: Record<string, string>;
  sandboxed: boolean;
  cancel: AbortSignal;
  standby?: SupervisorStandby;
}

/**
 * The runs of one training in `slot`. Their environment is the allowlisted one (secrets never reach the
 * script, docs/ARCHITECTURE.md, invariant 5), with the target's declared variables and the seed's.
 */
export function slotRun(repo: Repo, slot: Slot, config: TargetConfig, options: SlotRunOptions): SlotRun {
  const { seeded, sandboxed, cancel, standby, ...envOptions } = options;
  const env: NodeJS.ProcessEnv = {
    ...trainingEnv(process.env, envOptions, config.sandbox?.env),
    ...seeded,
    // Byte code outside the worktree (see freshPycachePrefix): none the candidate wrote is ever loaded.
    PYTHONPYCACHEPREFIX: freshPycachePrefix(slot),
  };
  return { repo, slot, config, env, cancel, sandboxed, ...(standby ? { standby } : {}) };
}

/** Called with the log's last line as a run goes (the activity's heartbeat). */
export type OnProgress = NonNullable<SupervisedRun['onProgress']>;

/** What differs between a slot's runs. */
export type RunSpec = Pick<
  SupervisedRun,
  'command' | 'logPath' | 'timeoutSeconds' | 'onProgress' | 'onFinished' | 'exitNote'
>;

/** `confined`: the run's sandbox and limits (training/sandboxFor.ts), built just before it starts. */
export function runInSlot(
  at: SlotRun,
  confined: Pick<SupervisedRun, 'sandbox' | 'limits'>,
  run: RunSpec,
): Promise<SupervisedResult> {
  return runSupervised({
    ...run,
    cwd: at.slot.worktree,
    env: at.env,
    pidFile: at.slot.pidFile,
    cancel: at.cancel,
    sandbox: confined.sandbox,
    limits: confined.limits,
    slot: at.slot.name,
    ...(at.standby ? { standby: at.standby } : {}),
  });
}
