// How a target is run and scored. A plain karpathy/autoresearch clone needs no config at all; any other
// target declares itself in `autoresearch.toml`. Every field is validated with a message naming the
// field and the fix.
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import type { SandboxConfig, TargetConfig } from '../common/types';
import { targetError } from '../common/errors';
import { isSecretName } from '../training/environment';

export const CONFIG_FILE = 'autoresearch.toml';

/**
 * karpathy/autoresearch's contract (docs/ARCHITECTURE.md, section 1): uv, a 300 s budget enforced by
 * train.py, 10 min kill.
 */
export const AUTORESEARCH_DEFAULTS: Omit<TargetConfig, 'source'> = {
  train: {
    command: 'uv run train.py',
    setup: ['uv sync', 'uv run prepare.py'],
    setupOutputs: ['.venv', 'uv.lock'],
    budgetSeconds: undefined,
    timeoutSeconds: 600,
  },
  metric: { name: 'val_bpb', direction: 'minimize', memoryKey: 'peak_vram_mb' },
  files: { editable: ['train.py'], frozen: ['prepare.py'], program: 'program.md' },
};

const relativePath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), {
    message: 'must be a path relative to the repository root, without ".."',
  });

const absolutePath = z
  .string()
  .min(1)
  .refine((p) => p.startsWith('/') && !p.split('/').includes('..'), {
    message: 'must be an absolute path without ".."',
  });

/**
 * A file the training leaves for the evaluation: a plain path (git's clean keeps it by this exact name, so
 * no wildcards) inside the worktree, never in git's own directory.
 */
const artifactPath = z
  .string()
  .min(1)
  .refine(
    (p) =>
      !p.startsWith('/') &&
      !/[*?[\]\\!]/.test(p) &&
      !p
        .replace(/\/$/, '')
        .split('/')
        .some((s) => s === '' || s === '.' || s === '..') &&
      p.split('/')[0] !== '.git',
    {
      message:
        'must be a plain path relative to the repository root (no "..", wildcards or .git), e.g. "checkpoint.npz"',
    },
  );

/** `[sandbox]` when the config has none. */
export const SANDBOX_DEFAULTS: SandboxConfig = {
  network: false,
  maxProcesses: 4096,
  readPaths: [],
  writePaths: [],
  env: [],
};

const schema = z
  .object({
    train: z
      .object({
        command: z.string().min(1).optional(),
        setup: z.union([z.string().min(1), z.array(z.string().min(1))]).optional(),
        setup_outputs: z.array(relativePath).optional(),
        budget_seconds: z.number().positive().optional(),
        timeout_seconds: z.number().positive().optional(),
        setup_timeout_seconds: z.number().positive().optional(),
        seed_env: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name such as SEED')
          .optional(),
        seed_arg: z
          .string()
          .regex(/^--?[A-Za-z][\w-]*$/, 'must be a command-line flag such as --seed')
          .optional(),
      })
      .strict()
      .optional(),
    metric: z
      .object({
        name: z
          .string()
          .regex(/^[A-Za-z_][\w.-]*$/, 'must be a plain key such as val_bpb')
          .optional(),
        pattern: z.string().optional(),
        direction: z.enum(['minimize', 'maximize']).optional(),
        memory_key: z.string().optional(),
      })
      .strict()
      .optional(),
    files: z
      .object({
        editable: z.array(relativePath).min(1).optional(),
        frozen: z.array(relativePath).optional(),
        program: relativePath.optional(),
      })
      .strict()
      .optional(),
    eval: z
      .object({
        command: z.string().min(1, 'must be the command that prints the metric, e.g. "uv run evaluate.py"'),
        timeout_seconds: z.number().positive().optional(),
        artifacts: z.array(artifactPath).optional(),
      })
      .strict()
      .optional(),
    sandbox: z
      .object({
        network: z.boolean().optional(),
        memory_mb: z.number().int().positive().optional(),
        max_processes: z
          .number()
          .int()
          .min(16, 'must be at least 16 (Python and its threads need some)')
          .optional(),
        max_file_mb: z.number().int().positive().optional(),
        read_paths: z.array(absolutePath).optional(),
        write_paths: z.array(absolutePath).optional(),
        env: z
          .array(
            z
              .string()
              .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name such as WANDB_MODE')
              .refine((name) => !isSecretName(name), {
                message:
                  'looks like a secret: candidate code is written by an agent and never gets keys; ' +
                  'remove it (a training that needs a service can run it offline, e.g. WANDB_MODE=offline)',
              }),
          )
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/**
 * Builds a target's config from the text of its autoresearch.toml (or null when it has none), and checks
 * that the files it names exist via `exists`.
 */
export async function resolveTargetConfig(
  tomlText: string | null,
  exists: (file: string) => Promise<boolean>,
): Promise<TargetConfig> {
  let config: TargetConfig;
  if (tomlText === null) {
    config = { source: 'defaults (karpathy/autoresearch layout)', ...structuredClone(AUTORESEARCH_DEFAULTS) };
  } else {
    config = parseConfigText(tomlText);
  }

  const named = [
    ...config.files.editable,
    ...config.files.frozen,
    ...(config.files.program ? [config.files.program] : []),
  ];
  const missing: string[] = [];
  for (const file of named) if (!(await exists(file))) missing.push(file);
  if (missing.length > 0) {
    const hint =
      tomlText === null
        ? `Without ${CONFIG_FILE} a target must look like karpathy/autoresearch (train.py, prepare.py, program.md). ` +
          `Add ${CONFIG_FILE} naming your files, e.g. [files] editable = ["train.py"], frozen = ["eval.py"].`
        : `Commit the files, or fix [files] in ${CONFIG_FILE}.`;
    throw targetError(`Target is missing ${missing.join(', ')} (committed at HEAD). ${hint}`);
  }
  const overlap = config.files.editable.filter((f) => config.files.frozen.includes(f));
  if (overlap.length > 0)
    throw targetError(
      `${config.source}: ${overlap.join(', ')} is both editable and frozen; list it in one of them.`,
    );
  return config;
}

export function parseConfigText(tomlText: string): TargetConfig {
  let raw: unknown;
  try {
    raw = parseToml(tomlText);
  } catch (err) {
    throw targetError(
      `${CONFIG_FILE} is not valid TOML: ${(err as Error).message.split('\n')[0]}. Fix the syntax.`,
    );
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const field = issue.path.join('.') || '(top level)';
      return `${field}: ${issue.message}`;
    });
    throw targetError(
      `${CONFIG_FILE} is invalid: ${problems.join('; ')}. ` +
        'Known fields: [train] command, setup, setup_outputs, budget_seconds, timeout_seconds, setup_timeout_seconds, seed_env, seed_arg; ' +
        '[metric] name, pattern, direction ("minimize"|"maximize"), memory_key; [files] editable, frozen, program; ' +
        '[eval] command, timeout_seconds, artifacts; ' +
        '[sandbox] network, memory_mb, max_processes, max_file_mb, read_paths, write_paths, env.',
    );
  }
  const c = parsed.data;
  const d = AUTORESEARCH_DEFAULTS;
  const setup = c.train?.setup === undefined ? d.train.setup : [c.train.setup].flat();
  const command = c.train?.command ?? d.train.command;
  const config: TargetConfig = {
    source: CONFIG_FILE,
    train: {
      command,
      setup,
      setupOutputs: c.train?.setup_outputs ?? defaultSetupOutputs(command, setup),
      budgetSeconds: c.train?.budget_seconds,
      timeoutSeconds: c.train?.timeout_seconds ?? d.train.timeoutSeconds,
      ...(c.train?.setup_timeout_seconds !== undefined
        ? { setupTimeoutSeconds: c.train.setup_timeout_seconds }
        : {}),
      ...(c.train?.seed_env !== undefined ? { seedEnv: c.train.seed_env } : {}),
      ...(c.train?.seed_arg !== undefined ? { seedArg: c.train.seed_arg } : {}),
    },
    metric: {
      name: c.metric?.name ?? d.metric.name,
      pattern: c.metric?.pattern,
      direction: c.metric?.direction ?? d.metric.direction,
      memoryKey: c.metric?.memory_key ?? d.metric.memoryKey,
    },
    files: {
      editable: c.files?.editable ?? d.files.editable,
      frozen: c.files?.frozen ?? d.files.frozen,
      program: c.files?.program ?? (c.files ? undefined : d.files.program),
    },
    ...(c.eval
      ? {
          eval: {
            command: c.eval.command,
            timeoutSeconds: c.eval.timeout_seconds ?? d.train.timeoutSeconds,
            ...(c.eval.artifacts !== undefined ? { artifacts: c.eval.artifacts } : {}),
          },
        }
      : {}),
    ...(c.sandbox
      ? {
          sandbox: {
            network: c.sandbox.network ?? SANDBOX_DEFAULTS.network,
            ...(c.sandbox.memory_mb !== undefined ? { memoryMb: c.sandbox.memory_mb } : {}),
            maxProcesses: c.sandbox.max_processes ?? SANDBOX_DEFAULTS.maxProcesses,
            ...(c.sandbox.max_file_mb !== undefined ? { maxFileMb: c.sandbox.max_file_mb } : {}),
            readPaths: c.sandbox.read_paths ?? [],
            writePaths: c.sandbox.write_paths ?? [],
            env: c.sandbox.env ?? [],
          },
        }
      : {}),
  };
  if (config.metric.pattern !== undefined) {
    let re: RegExp;
    try {
      re = new RegExp(config.metric.pattern, 'm');
    } catch (err) {
      throw targetError(
        `${CONFIG_FILE}: metric.pattern is not a valid regular expression (${(err as Error).message}).`,
      );
    }
    if (new RegExp(`${re.source}|`).exec('')!.length < 2)
      throw targetError(
        `${CONFIG_FILE}: metric.pattern needs one capture group around the number, e.g. "^loss: ([0-9.]+)".`,
      );
  }
  // An artifact is what training writes; a file of the repository would be reset to its commit instead.
  const tracked = (config.eval?.artifacts ?? []).filter(
    (a) => config.files.editable.includes(a) || config.files.frozen.includes(a),
  );
  if (tracked.length > 0)
    throw targetError(
      `${CONFIG_FILE}: eval.artifacts names ${tracked.join(', ')}, a file of [files]: artifacts are what the ` +
        'training writes for the evaluation (e.g. "checkpoint.npz"); remove it from eval.artifacts.',
    );
  if (config.train.seedEnv !== undefined && config.train.seedArg !== undefined)
    throw targetError(
      `${CONFIG_FILE}: train.seed_env and train.seed_arg both say how to set the seed; keep one of them.`,
    );
  if (config.train.budgetSeconds !== undefined && config.train.budgetSeconds >= config.train.timeoutSeconds)
    throw targetError(
      `${CONFIG_FILE}: train.budget_seconds (${config.train.budgetSeconds}) must be below train.timeout_seconds (${config.train.timeoutSeconds}).`,
    );
  return config;
}

/**
 * What the set-up leaves in the worktree when the config does not say: uv's environment and lock file
 * (`uv sync` makes them, `uv run` reads them) for a target run with uv, nothing otherwise.
 */
export function defaultSetupOutputs(command: string, setup: string[]): string[] {
  const usesUv = [command, ...setup].some((c) => /(^|[\s;&|(])uv\s/.test(c));
  return usesUv ? [...AUTORESEARCH_DEFAULTS.train.setupOutputs!] : [];
}

/** Applies run-time overrides (`--budget`, `--timeout`) to a target's config. */
export function withOverrides(
  config: TargetConfig,
  budgetSeconds?: number,
  timeoutSeconds?: number,
): TargetConfig {
  const train = { ...config.train };
  if (budgetSeconds !== undefined) train.budgetSeconds = budgetSeconds;
  if (timeoutSeconds !== undefined) train.timeoutSeconds = timeoutSeconds;
  else if (train.budgetSeconds !== undefined && train.timeoutSeconds <= train.budgetSeconds)
    train.timeoutSeconds = Math.ceil(train.budgetSeconds * 2 + 60);
  if (train.budgetSeconds !== undefined && train.timeoutSeconds <= train.budgetSeconds)
    throw targetError(
      `--timeout (${train.timeoutSeconds}s) must be longer than the budget (${train.budgetSeconds}s).`,
    );
  return { ...config, train };
}
