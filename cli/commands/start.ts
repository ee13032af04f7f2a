// `autoresearch start`: start a research run on a target repository, optionally following it to the end.
import { type Command, Option } from 'commander';
import { START_DEFAULTS, runHandle, runUiUrl, startRun } from '../../client';
import { Repo } from '../../store/git';
import { connectClient, temporalSettings } from '../../temporal/connection';
import { DEFAULT_CLAUDE } from '../../proposers/claude/settings';
import { summaryText } from '../render';
import { uiUrlFor } from '../server';
import { followRun } from '../watch';
import { keepRuleName, parseDeadline, positiveInt, positiveNumber, positiveSeconds } from '../parse';
import { CLIENT_RETRY } from '../session';
import { workflowIdFor } from '../../common/names';
import type { ProposerKind, RunSummary } from '../../common/types';

export function addStartCommand(program: Command): void {
  program
    .command('start')
    .description('start a research run on a target repository')
    .argument(
      '<repo>',
      'git repository of the target (karpathy/autoresearch layout, or with autoresearch.toml)',
    )
    .requiredOption(
      '-t, --tag <tag>',
      'name of the run: branch autoresearch/<tag>, workflow autoresearch-<tag>',
    )
    .addOption(
      new Option(
        '--proposer <kind>',
        'who writes the edits: claude (Anthropic API), mutate (offline) or command (an agent CLI)',
      )
        .choices(['mutate', 'claude', 'command'])
        .default(process.env.ANTHROPIC_API_KEY ? 'claude' : 'mutate'),
    )
    .option('--model <model>', 'claude proposer: the model', DEFAULT_CLAUDE.model)
    .option('--max-tokens <n>', 'claude proposer: max output tokens', positiveInt, DEFAULT_CLAUDE.maxTokens)
    .option('--thinking <tokens>', 'claude proposer: extended thinking budget (>= 1024)', positiveInt)
    .option(
      '--proposer-command <cli>',
      'command proposer: run in a worktree; the prompt is in $AUTORESEARCH_PROMPT_FILE (the control worker must allow it: worker --agent-command)',
    )
    .option('--proposer-timeout <seconds>', 'command proposer: time limit', positiveSeconds, 600)
    .option(
      '--proposer-env <names>',
      'command proposer: secrets it may see, comma-separated (e.g. ANTHROPIC_API_KEY), if the worker allows them (worker --pass-env); all others are removed',
      (v) =>
        v
          .split(',')
          .map((name) => name.trim())
          .filter(Boolean),
    )
    .option('--max-spend <dollars>', 'end the run once proposals have cost this much', positiveSeconds)
    .option('--max-spend-tokens <n>', 'end the run once proposals have used this many tokens', positiveInt)
    .option(
      '-n, --max-experiments <n>',
      'experiments after the baseline (default: until stopped)',
      positiveInt,
    )
    .option(
      '--deadline <when>',
      'start no experiment after this: 2026-11-28T07:00, or 8h, 90m, 2d from now',
      (v) => parseDeadline(v),
    )
    .option('--budget <seconds>', "override the target's training budget", positiveSeconds)
    .option('--timeout <seconds>', "override the target's hard timeout", positiveSeconds)
    .option('--seed <n>', 'seed of the mutate proposer', positiveInt, 0)
    .option(
      '--remote <url>',
      'a git remote every worker reaches (e.g. git@host:target.git): training workers on other machines fetch the candidates from it',
    )
    .option(
      '--parallel <n>',
      'experiments in flight at once, one per training slot (GPU)',
      (v) => positiveInt(v),
      START_DEFAULTS.parallel,
    )
    .option(
      '--noise-runs <n>',
      "train the baseline this many times with different seeds (repeats of the identical run, for a target that sets no seed) to measure the metric's noise (1: once)",
      (v) => positiveInt(v),
      START_DEFAULTS.noiseRuns,
    )
    .option(
      '--keep-rule <rule>',
      'strict: any better metric keeps (autoresearch); noise-aware: a gain the noise could explain is confirmed with more seeds first (default when the noise is measured)',
      keepRuleName,
    )
    .option(
      '--noise-margin <k>',
      'noise-aware: standard errors a gain must exceed',
      (v) => positiveNumber(v),
      START_DEFAULTS.noiseMargin,
    )
    .option(
      '--confirm-runs <n>',
      'noise-aware: more seeds a doubtful candidate trains before its mean decides',
      (v) => positiveInt(v),
      START_DEFAULTS.confirmRuns,
    )
    .option(
      '--noise-stale-after <n>',
      'noise-aware: keeps after which the next keep is confirmed too, measuring the noise again',
      (v) => positiveInt(v),
      START_DEFAULTS.noiseStaleAfter,
    )
    .option(
      '--no-pipeline',
      'propose only once a slot is free (default: the next proposal is made while training)',
    )
    .option('--wait', 'follow the run until it ends and print its results')
    .action(
      async (
        repo: string,
        opts: {
          tag: string;
          proposer: ProposerKind;
          model: string;
          maxTokens: number;
          thinking?: number;
          maxSpend?: number;
          maxSpendTokens?: number;
          proposerCommand?: string;
          proposerTimeout: number;
          proposerEnv?: string[];
          maxExperiments?: number;
          deadline?: Date;
          budget?: number;
          timeout?: number;
          seed: number;
          remote?: string;
          parallel: number;
          pipeline: boolean;
          noiseRuns: number;
          keepRule?: 'strict' | 'noise-aware';
          noiseMargin: number;
          confirmRuns: number;
          noiseStaleAfter: number;
          wait?: boolean;
        },
      ) => {
        const client = await connectClient(temporalSettings(), CLIENT_RETRY);
        // Said before the target is checked: the running run's branch would otherwise be the complaint.
        const running = await runHandle(client, opts.tag)
          .describe()
          .then((d) => d.status.name === 'RUNNING')
          .catch(() => false);
        if (running)
          throw new Error(
            `A run with tag "${opts.tag}" is already running (workflow ${workflowIdFor(opts.tag)}): watch it with ` +
              `\`autoresearch status --tag ${opts.tag}\`, end it with \`autoresearch stop --tag ${opts.tag}\`, ` +
              'or start another run with a new --tag.',
          );
        const handle = await startRun(client, {
          repo,
          tag: opts.tag,
          proposer: opts.proposer,
          maxExperiments: opts.maxExperiments,
          deadline: opts.deadline,
          budgetSeconds: opts.budget,
          timeoutSeconds: opts.timeout,
          seed: opts.seed,
          remote: opts.remote,
          parallel: opts.parallel,
          pipeline: opts.pipeline,
          noiseRuns: opts.noiseRuns,
          keepRule: opts.keepRule,
          noiseMargin: opts.noiseMargin,
          confirmRuns: opts.confirmRuns,
          noiseStaleAfter: opts.noiseStaleAfter,
          claude: { model: opts.model, maxTokens: opts.maxTokens, thinkingBudget: opts.thinking },
          command: opts.proposerCommand
            ? {
                command: opts.proposerCommand,
                timeoutSeconds: opts.proposerTimeout,
                passEnv: opts.proposerEnv,
              }
            : undefined,
          maxDollars: opts.maxSpend,
          maxTokens: opts.maxSpendTokens,
        });
        console.log(`started ${handle.workflowId} (proposer: ${opts.proposer})`);
        // The baseline is whatever was checked out, a branch tip or a detached commit alike: say which.
        const target = await Repo.open(repo);
        const at = handle.baseline.slice(0, 7);
        const on = (await target.raw(['rev-parse', '--abbrev-ref', 'HEAD'])).trim();
        console.log(
          `baseline: ${at}, ${on === 'HEAD' ? 'the detached HEAD' : `the tip of ${on}`} in ${target.root}`,
        );
        const ui = uiUrlFor(temporalSettings());
        if (ui) console.log(`Web UI: ${runUiUrl(ui, client.options.namespace, opts.tag)}`);
        if (opts.wait) {
          const summary = await followRun<RunSummary>(handle, {
            onExperiment: (r) =>
              console.log(`exp ${r.n} ${r.status} ${r.metric?.toFixed(6) ?? '-'} ${r.description}`),
          });
          console.log(summaryText(summary));
        }
        await client.connection.close();
      },
    );
}
