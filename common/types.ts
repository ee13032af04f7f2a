// The vocabulary shared by the workflow, the activities and the CLI. Types only: the workflow sandbox
// imports this file, so it must never pull in Node APIs.

export type ProposerKind = 'mutate' | 'claude' | 'command';

/**
 * `keep`, `discard` and `crash` are autoresearch's statuses; `timeout` and `invalid` are finer kinds of
 * crash; `cancelled` is an experiment a person stopped (`pause --now`): it says nothing about the idea.
 */
export type ExperimentStatus = 'keep' | 'discard' | 'crash' | 'timeout' | 'invalid' | 'cancelled';

export type MetricDirection = 'minimize' | 'maximize';

/** How a target is run and scored: read from `autoresearch.toml`, or karpathy/autoresearch's defaults. */
export interface TargetConfig {
  /** Where the config came from, for messages: a file name or "defaults". */
  source: string;
  train: {
    /** Shell command run in the slot's worktree for each experiment. */
    command: string;
    /** Commands run once per slot before its first training (e.g. `uv sync`, `uv run prepare.py`). */
    setup: string[];
    /**
     * What the set-up leaves in the slot's worktree that later trainings use (e.g. `.venv`): kept between
     * trainings, while everything else a training wrote is deleted before the next one. Absent in the
     * config of a run prepared by an earlier version, whose slots keep every ignored file as they did.
     */
    setupOutputs?: string[];
    /** The training budget the script enforces itself; passed as AUTORESEARCH_TIME_BUDGET when set. */
    budgetSeconds?: number;
    /** A run longer than this is killed and recorded as `timeout`. */
    timeoutSeconds: number;
    /** The set-up commands get this long on a fresh slot; absent: 30 minutes (common/trainBound.ts). */
    setupTimeoutSeconds?: number;
    /**
     * How to give a training another random seed (to measure run-to-run noise, or to confirm a result):
     * an environment variable the script reads, or a flag appended to the command with the seed.
     */
    seedEnv?: string;
    seedArg?: string;
  };
  metric: {
    name: string;
    /** Regex with one capture group; default: `^<name>:\s*(value)` at line start. */
    pattern?: string;
    direction: MetricDirection;
    /** Summary key holding peak memory in MB, reported as memory_gb in results.tsv. */
    memoryKey?: string;
  };
  files: {
    editable: string[];
    frozen: string[];
    program?: string;
  };
  /**
   * A separate evaluation, run in the same worktree after a successful training on what it wrote (e.g. a
   * checkpoint). Its output, not the training's, holds the metric: train.py cannot print its own score.
   * The command should run frozen code.
   */
  eval?: {
    command: string;
    timeoutSeconds: number;
    /**
     * What the training leaves for the evaluation (`[eval] artifacts`, e.g. checkpoint.npz), as paths from
     * the worktree's root. When set, everything else the training wrote (a shadow `json.py`, a forged
     * `__pycache__`) is removed before the evaluation runs, but the set-up's outputs. Absent (a config
     * that does not say, or a run prepared by an earlier version): the worktree is left as training left it.
     */
    artifacts?: string[];
  };
  /**
   * What the target's candidate code may reach inside the training sandbox (`[sandbox]` in
   * autoresearch.toml). Absent: the defaults (no network, 4096 processes and threads, no memory or file-size limit
   * beyond the machine's, nothing outside the worktree writable).
   */
  sandbox?: SandboxConfig;
}

/** `[sandbox]` of a target's config: what its trainings and evaluations may reach. */
export interface SandboxConfig {
  /** Let trainings and evaluations reach the network (the set-up always may). */
  network: boolean;
  /** Memory limit of the training's whole process tree in MiB, where the kernel enforces it. */
  memoryMb?: number;
  /** Most processes and threads the training's tree may hold at once (a fork bomb stops there). */
  maxProcesses: number;
  /** Largest file a training may write, in MiB (RLIMIT_FSIZE). */
  maxFileMb?: number;
  /** Absolute host paths visible read-only (data kept outside the repository). */
  readPaths: string[];
  /** Absolute host paths the training may write besides its worktree and scratch /tmp. */
  writePaths: string[];
  /** Names of further environment variables passed to the training (beyond the built-in allowlist). */
  env: string[];
}

/** How the claude proposer calls the model. */
export interface ClaudeSettings {
  model: string;
  maxTokens: number;
  /** Extended thinking budget in tokens (>= 1024, below maxTokens); absent = no thinking. */
  thinkingBudget?: number;
}

/** How the command proposer runs a coding-agent CLI. */
export interface CommandSettings {
  /** Shell command run in a worktree of the parent; reads the prompt from $AUTORESEARCH_PROMPT_FILE. */
  command: string;
  timeoutSeconds: number;
  /**
   * Secrets the agent may see (e.g. ANTHROPIC_API_KEY for `claude -p`); every other key, token or
   * password is removed from its environment, as from training's.
   */
  passEnv?: string[];
}

/** Tokens and dollars a proposal cost. */
export interface ProposalCost {
  inputTokens: number;
  outputTokens: number;
  cacheCreationTokens: number;
  cacheReadTokens: number;
  dollars: number;
}

/** What a person chooses when starting a run. */
export interface RunOptions {
  tag: string;
  /** Absolute path of the target's git repository on the control worker's machine (and the trainers', without `remote`). */
  repo: string;
  /**
   * A git remote every worker reaches (a bare repository's path, or a URL such as `git@host:target.git`):
   * the control side pushes the baseline, every candidate and the research branch there, and training
   * workers on other machines fetch from it instead of opening `repo`. Absent = one machine.
   */
  remote?: string;
  /**
   * The commit `start` checked (its HEAD then): experiment 0 and the branch's base, whenever a worker
   * first picks the run up. Absent in runs started before it was pinned: prepare reads HEAD then.
   */
  baseline?: string;
  proposer: ProposerKind;
  /** Experiments after the baseline; absent = until stopped. */
  maxExperiments?: number;
  /** No experiment starts after this moment (ISO 8601); absent = no deadline. */
  deadline?: string;
  seed: number;
  /** Overrides the target's training budget (seconds). */
  budgetSeconds?: number;
  /** Overrides the target's hard timeout (seconds). */
  timeoutSeconds?: number;
  /** Continue-as-new after this many experiments even if Temporal does not suggest it yet. */
  experimentsPerRun: number;
  /** Task queue of the GPU (training) workers. */
  trainTaskQueue: string;
  /**
   * Experiments in flight at once, each on its own slot (a GPU). Absent in runs started before it
   * existed: those run one at a time, as they always did.
   */
  parallel?: number;
  /** Propose the next experiment while the current one trains, so a slot never waits for the proposer. */
  pipeline?: boolean;
  /**
   * Train the baseline this many times, with different seeds, to measure the metric's run-to-run noise
   * (with the target's seed_env or seed_arg; a target that sets no seed repeats the identical run when
   * `repeatUnseeded` is set). Absent or 1: once.
   */
  noiseRuns?: number;
  /**
   * A target that declares no seed setting (karpathy/autoresearch hard-codes its own) measures its noise
   * and confirms doubtful gains by training the same code again: on a GPU and under a wall-clock budget
   * identical runs differ. Absent in runs started before it: such a target trains once.
   */
  repeatUnseeded?: boolean;
  /** When a better metric is kept: autoresearch's strict rule, or one that allows for the noise. Absent: strict. */
  keepRule?: KeepRule;
  /**
   * How the training step's start-to-close timeout is set. `all-parts`: set-up + training + evaluation
   * (+ fetch) + a margin (common/trainBound.ts). Absent (runs started before it): the training timeout + 30
   * minutes, as those runs were recorded with.
   */
  trainStepBound?: 'all-parts';
  /** Heartbeat timeout of every step (training and control): how fast a dead worker's step moves to another. */
  heartbeatTimeoutSeconds: number;
  /**
   * Start-to-close timeout of the proposal step: the proposer's own bound (a coding agent's
   * --proposer-timeout, claude's API calls) and time for the git work around it. Absent in runs
   * started before it: 5 minutes, as for every control step.
   */
  proposeTimeoutSeconds?: number;
  /** Whether the server has this project's search attributes registered. */
  searchAttributes: boolean;
  /** Settings of the claude proposer. */
  claude?: ClaudeSettings;
  /** Settings of the command proposer. */
  command?: CommandSettings;
  /** End the run cleanly once the proposals have cost this many dollars... */
  maxDollars?: number;
  /** ...or this many tokens (input, cache and output together). */
  maxTokens?: number;
}

export interface PreparedRun {
  branch: string;
  baseCommit: string;
  config: TargetConfig;
  /** Blob SHA of each frozen file at the baseline: proof the evaluation was not touched. */
  frozenBlobs: Record<string, string>;
  /** Where this run's logs, records and results.tsv live (inside the repo's git dir, never its working tree). */
  runDir: string;
}

export interface Candidate {
  n: number;
  parent: string;
  /** The candidate commit; the parent itself when the proposal was invalid. */
  commit: string;
  description: string;
  hypothesis?: string;
  cost?: ProposalCost;
  /** The operator's queued idea this candidate tries, if any. */
  idea?: string;
  /** Why the proposal could not become a candidate (nothing is trained then). */
  invalid?: string;
}

export interface TrainingOutcome {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** The `key: value` lines of the summary block after `---`. */
  summary: Record<string, string>;
  /** The metric value as printed (the configured pattern's capture), if any. */
  metricText: string | null;
  logPath: string;
  /** Last lines of the log, for the record and for the next proposal after a crash. */
  logTail: string;
  trainSeconds: number;
  slot: string;
  /** Set when the slot's setup commands failed, so nothing was trained. */
  setupFailed?: boolean;
  /** Frozen files the training process changed in its worktree (the run is then not scored). */
  frozenModified: string[];
  /** With a separate evaluation command: why it failed (exit code, timeout, last line), if it did. */
  evalFailed?: string;
  /** With a separate evaluation command: its log (the metric was read from it). */
  evalLogPath?: string;
  /** The sandbox's limit that stopped a failed training, set-up or evaluation (training/sandboxLimits.ts). */
  limitReached?: 'memory' | 'processes' | 'disk' | 'file-size';
  /**
   * The verdict, given by the training worker when it was handed the baseline's frozen blobs: the
   * workflow then has no evaluate step to wait for. Absent from workers and runs older than that.
   */
  evaluation?: Evaluation;
}

/**
 * How a run decides to keep. `strict`: any better metric (autoresearch). `noise-aware`: the gain must
 * exceed `margin` standard errors of the difference of the means (from the run's measured noise); a
 * candidate short of that, but better, trains `confirmRuns` more times with other seeds and its mean
 * decides.
 */
export interface KeepRule {
  rule: 'strict' | 'noise-aware';
  margin: number;
  confirmRuns: number;
  /** After this many keeps without a new measurement the noise is stale: the next keep is confirmed too. */
  staleAfterKeeps: number;
  /**
   * Runs that all scored the same (a deterministic target) are exactly that: their mean is their value,
   * not one a rounding error off it (which a candidate scoring the same would beat), and they measure no
   * noise, so the strict rule decides. Absent in runs started before it: there, the rounding counted.
   */
  identicalRunsExact?: boolean;
}

/**
 * How an experiment trains again: with another seed (the target's seed_env or seed_arg), or as a
 * repeat of the identical run (a target that sets no seed).
 */
export type NoiseBy = 'seed' | 'repeat';

/** One experiment trained with several seeds (or repeated). */
export interface SeedRuns {
  /** The metric of each run: the target's own seed first, then seeds 1, 2 ... (or repeats 1, 2 ...) */
  metrics: number[];
  /** Their sample standard deviation. */
  std: number;
  /** 'repeat': the runs were the identical run repeated, no seed set (absent: seeds). */
  by?: 'repeat';
}

/** The run's estimate of the metric's run-to-run noise. */
export interface NoiseEstimate {
  /** The pooled sample standard deviation of `groups`. */
  std: number;
  /** The latest experiments trained with several seeds (the baseline first), each with its runs' metrics. */
  groups: { n: number; metrics: number[] }[];
  /** Keeps decided since the last of them: a stale estimate is measured again on the next keep. */
  keepsSince: number;
}

export interface Evaluation {
  status: 'ok' | 'crash' | 'timeout' | 'invalid' | 'cancelled';
  /** Trained with several seeds: the mean over them. */
  metric?: number;
  runs?: SeedRuns;
  /** Training seconds of the runs with other seeds (the GPU time they took). */
  moreTrainSeconds?: number;
  /** Runs with other seeds that gave no metric (crash, timeout, NaN ...): what went wrong in each. */
  failedRuns?: string[];
  memoryGb?: number;
  reason?: string;
}

export interface ExperimentRecord {
  n: number;
  parent: string;
  commit: string;
  description: string;
  status: ExperimentStatus;
  metric?: number;
  memoryGb?: number;
  reason?: string;
  hypothesis?: string;
  cost?: ProposalCost;
  /** The operator's queued idea this experiment tried, if any. */
  idea?: string;
  /**
   * Trained with several seeds (the baseline's noise runs, a candidate's confirmation runs): each run's
   * metric and their spread; `metric` is their mean and `trainSeconds` their sum.
   */
  runs?: SeedRuns;
  /** Under the noise-aware rule: the gain against the margin that decided keep or discard. */
  verdict?: string;
  /** The end of the log of a crashed run, for the next proposal (kept in the record file only). */
  logTail?: string;
  trainSeconds: number;
  /** Workflow time in ms when the experiment started and finished (propose to record). */
  startedAt: number;
  finishedAt: number;
}

export interface BestResult {
  n: number;
  commit: string;
  metric: number;
  /** How many runs `metric` is the mean of (absent: one). */
  runs?: number;
}

export type Phase =
  | 'preparing'
  | 'proposing'
  | 'training'
  | 'evaluating'
  | 'recording'
  | 'paused'
  | 'stopped'
  | 'finished'
  | 'failed';

/** What one experiment in flight is doing (`ready`: proposed ahead, waiting for a free slot). */
export type ExperimentPhase = 'proposing' | 'ready' | 'training' | 'evaluating' | 'recording';

export interface ActiveExperiment {
  n: number;
  phase: ExperimentPhase;
  /** Workflow time (ms) when it entered this phase. */
  since: number;
  description: string | null;
}

/** What the `status` query answers. */
export interface RunStatus {
  tag: string;
  phase: Phase;
  currentExperiment: number | null;
  currentDescription: string | null;
  /** Every experiment in flight (several with --parallel or pipelining), by number. */
  inFlight: ActiveExperiment[];
  best: BestResult | null;
  /** The baseline's metric, once experiment 0 is scored. */
  baselineMetric: number | null;
  /** The metric's run-to-run noise, when the baseline was trained with several seeds. */
  noise: NoiseEstimate | null;
  /** The run's keep rule (strict when absent). */
  keepRule: KeepRule | null;
  /**
   * How the noise is measured: seeds, repeats, or not at all (null: the target sets no seed in a run
   * started before repeats, or the baseline trains once). Absent from workers older than it.
   */
  noiseBy?: NoiseBy | null;
  metricName: string | null;
  direction: MetricDirection | null;
  experimentsDone: number;
  counts: Record<ExperimentStatus, number>;
  recent: ExperimentRecord[];
  paused: boolean;
  /** Why the run paused itself (e.g. the API refused the key), if it did. */
  pausedReason: string | null;
  stopRequested: boolean;
  notes: string[];
  /** Ideas the operator queued, tried next in this order. */
  queue: string[];
  /** What the proposals have cost so far. */
  spend: ProposalCost;
  runDir: string | null;
  branch: string | null;
  maxExperiments: number | null;
  deadline: string | null;
  /** Workflow time (ms) when the current phase began: with the budget, a progress bar for training. */
  phaseStartedAt: number | null;
  /** The training budget in seconds, when the target declares one. */
  budgetSeconds: number | null;
  /** The target's name (its folder). */
  target: string;
}

/** New limits for a live run: a field left out is unchanged; null removes that limit. */
export interface LimitsChange {
  maxExperiments?: number | null;
  deadline?: string | null;
}

export interface RunSummary {
  tag: string;
  reason: 'max-experiments' | 'stopped' | 'spend-limit' | 'deadline';
  experimentsDone: number;
  best: BestResult | null;
  baselineMetric: number | null;
  counts: Record<ExperimentStatus, number>;
  branch: string | null;
  resultsPath: string | null;
  /** The operator's redirect notes, kept with the result. */
  notes: string[];
  spend: ProposalCost;
}
