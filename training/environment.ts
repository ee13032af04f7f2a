// The environment a training process sees (docs/ARCHITECTURE.md, invariant 5): built from an allowlist,
// not the worker's environment minus a list of secret names. Training runs code an agent wrote: a variable
// it was not meant to see (an agent socket, a database URL, a cloud profile) is as much a leak as a key,
// and no denylist can name them all. Then the budget and the slot's GPU are added.
import path from 'node:path';

const SECRET_NAME = /(API_KEY|APIKEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_KEY|ACCESS_KEY|AUTH)/i;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name) || name.startsWith('TEMPORAL_') || name.startsWith('ANTHROPIC_');
}

/** Variables a training may need to start and to find its tools, by exact name. */
const ALLOWED_NAMES = new Set([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LANGUAGE',
  'TERM',
  'TZ',
  'TMPDIR',
  'LD_LIBRARY_PATH',
  // Thread counts of the numeric libraries.
  'OMP_NUM_THREADS',
  'MKL_NUM_THREADS',
  'OPENBLAS_NUM_THREADS',
  'NUMEXPR_NUM_THREADS',
  // Certificates of a company's proxy, for the set-up's downloads.
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'REQUESTS_CA_BUNDLE',
  'CURL_CA_BUNDLE',
  'PIP_CERT',
  'NODE_EXTRA_CA_CERTS',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'XDG_CACHE_HOME',
]);

/**
 * Families of variables that configure the toolchain and the GPU stack: locale, CUDA and the NVIDIA
 * container runtime, PyTorch and its compilers, uv and pip (package indexes), Hugging Face caches.
 */
const ALLOWED_PREFIXES = [
  'LC_',
  'CUDA_',
  'NVIDIA_',
  'NCCL_',
  'CUBLAS_',
  'CUDNN_',
  'TORCH',
  'PYTORCH_',
  'TRITON_',
  'UV_',
  'PIP_',
  'HF_',
];

/** Whether a training may see the variable `name` (never a secret-looking one, whatever allowed it). */
export function isAllowedInTraining(name: string, declared: readonly string[] = []): boolean {
  if (isSecretName(name)) return false;
  return (
    ALLOWED_NAMES.has(name) || ALLOWED_PREFIXES.some((p) => name.startsWith(p)) || declared.includes(name)
  );
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

/**
 * A training's environment: the allowlisted variables of `base`, those the target names in its
 * `[sandbox] env` (`declared`; secret-looking names are refused there too), then budget, GPU and PATH.
 */
export function trainingEnv(
  base: NodeJS.ProcessEnv,
  options: TrainingEnvOptions,
  declared: readonly string[] = [],
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(base))
    if (value !== undefined && isAllowedInTraining(name, declared)) env[name] = value;
  if (options.extraPath?.length) env.PATH = [...options.extraPath, env.PATH ?? ''].join(path.delimiter);
  if (options.budgetSeconds !== undefined) env.AUTORESEARCH_TIME_BUDGET = String(options.budgetSeconds);
  if (options.gpus !== undefined) env.CUDA_VISIBLE_DEVICES = options.gpus;
  env.PYTHONUNBUFFERED = '1';
  return env;
}
