// The environment a training process sees: the worker's, minus every secret (DESIGN invariant 5), plus
// the budget and the slot's GPU. Training runs code an agent wrote; it gets no keys.
import path from 'node:path';

const SECRET_NAME = /(API_KEY|APIKEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_KEY|ACCESS_KEY|AUTH)/i;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name) || name.startsWith('TEMPORAL_') || name.startsWith('ANTHROPIC_');
}

export interface TrainingEnvOptions {
  budgetSeconds?: number;
  /** GPU index(es) this slot owns, pinned through CUDA_VISIBLE_DEVICES. */
  gpus?: string;
  /** Directories put first on PATH (e.g. where the project installed uv). */
  extraPath?: string[];
}

/** The environment minus every secret, except the ones named in `allowed` (the operator's explicit choice). */
export function withoutSecrets(base: NodeJS.ProcessEnv, allowed: readonly string[] = []): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(base))
    if (value !== undefined && (!isSecretName(name) || allowed.includes(name))) env[name] = value;
  return env;
}

export function trainingEnv(base: NodeJS.ProcessEnv, options: TrainingEnvOptions): NodeJS.ProcessEnv {
  const env = withoutSecrets(base);
  if (options.extraPath?.length) env.PATH = [...options.extraPath, env.PATH ?? ''].join(path.delimiter);
  if (options.budgetSeconds !== undefined) env.AUTORESEARCH_TIME_BUDGET = String(options.budgetSeconds);
  if (options.gpus !== undefined) env.CUDA_VISIBLE_DEVICES = options.gpus;
  env.PYTHONUNBUFFERED = '1';
  return env;
}
