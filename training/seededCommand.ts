// How a training gets its random seed: the target's config says, by a variable or by a flag.
import type { TargetConfig } from '../common/types';
import { targetError } from '../common/errors';

/** The training command and the environment that give it `seed`, as the target's config says. */
export function seededCommand(
  config: TargetConfig,
  seed: number | undefined,
): { command: string; env: Record<string, string> } {
  const { command, seedEnv, seedArg } = config.train;
  if (seed === undefined) return { command, env: {} };
  if (!Number.isInteger(seed) || seed < 0)
    throw new Error(`a training seed must be a whole number >= 0; got ${seed}`);
  if (seedEnv) return { command, env: { [seedEnv]: String(seed) } };
  if (seedArg) return { command: `${command} ${seedArg} ${seed}`, env: {} };
  throw targetError(
    `${config.source} does not say how to set the training's random seed: add seed_env = "NAME" (a variable ` +
      'train.py reads) or seed_arg = "--seed" (a flag it takes) under [train].',
  );
}
