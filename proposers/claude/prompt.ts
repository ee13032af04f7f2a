// What Claude sees when it proposes the next experiment. The stable part (the role, program.md, the
// frozen files) goes in the system prompt and is cached; what changes every experiment (the current
// best code, the results so far, the operator's notes, the last crash) goes in the user message.
// Pure: builds text, no I/O.
import type { MetricDirection } from '../../common/types';
import type { ResultFields } from '../../store/resultsTsv';

export interface PromptContext {
  program: string | null;
  /** The editable files at the parent (the best code so far). */
  editable: Record<string, string>;
  /** The frozen files, read-only context (data, evaluation). */
  frozen: Record<string, string>;
  metricName: string;
  direction: MetricDirection;
  budgetSeconds?: number;
  n: number;
  /** The results so far in experiment order: all, or the last ones when `earlierResults` counts the rest. */
  results: ResultFields[];
  /** How many results came before `results` (absent: none). */
  earlierResults?: number;
  notes: string[];
  /** An idea the operator queued for this experiment: the proposal must try it. */
  idea?: string;
  /** The last experiment, when it crashed: what it tried and the tail of its log. */
  lastCrash?: { n: number; description: string; reason?: string; logTail: string };
}

/** At most this many past experiments are listed one per line; older ones are summarised by count. */
export const LISTED_RESULTS = 150;

export const PROPOSE_TOOL = {
  name: 'propose_edit',
  description:
    'Propose the next experiment: one focused change to the editable files, described in one line, with the hypothesis behind it.',
  input_schema: {
    type: 'object' as const,
    properties: {
      description: {
        type: 'string',
        description: 'One line, under 80 characters: what changes (e.g. "raise matrix LR to 0.05").',
      },
      hypothesis: {
        type: 'string',
        description: 'Why this should improve the metric, in one or two sentences.',
      },
      edits: {
        type: 'array',
        description:
          'Exact replacements. old_string must occur exactly once in the file; an empty old_string replaces the whole file.',
        items: {
          type: 'object',
          properties: {
            file: { type: 'string' },
            old_string: { type: 'string' },
            new_string: { type: 'string' },
          },
          required: ['file', 'old_string', 'new_string'],
        },
      },
    },
    required: ['description', 'hypothesis', 'edits'],
  },
};

function fence(name: string, text: string): string {
  return `<file path="${name}">\n${text}\n</file>`;
}

/** How the answer comes back: a tool call (the API), or edits made in place by a coding-agent CLI. */
export type AnswerMode = 'tool' | 'files';

export function systemPrompt(ctx: PromptContext, mode: AnswerMode = 'tool'): string {
  const better = ctx.direction === 'minimize' ? 'lower' : 'higher';
  return [
    'You are an autonomous ML researcher running experiments in a loop. Each experiment: you propose one edit to the',
    `editable files; it is trained for a fixed time budget${ctx.budgetSeconds ? ` (${ctx.budgetSeconds} s)` : ''} and scored on ${ctx.metricName}`,
    `(${better} is better). A strictly better score keeps the edit and it becomes the new baseline; otherwise it is discarded.`,
    'Rules: change only the editable files; never change the frozen files or the evaluation; add no dependencies; keep',
    'each experiment to one idea so the result teaches something; do not repeat an idea already tried unless you change',
    'it meaningfully.',
    mode === 'tool'
      ? 'Answer only by calling the propose_edit tool.'
      : 'Edit the editable files in the current directory directly. Then write a one-line description of your change ' +
        '(under 80 characters) to the file named by the AUTORESEARCH_DESCRIPTION_FILE environment variable. Do not run the training.',
    '',
    '# The research program (from the human)',
    ctx.program?.trim() || '(none given)',
    '',
    '# Frozen files (read-only: data preparation and evaluation)',
    ...Object.entries(ctx.frozen).map(([name, text]) => fence(name, text)),
  ].join('\n');
}

function resultsTable(results: ResultFields[], earlier = 0): string {
  if (results.length === 0) return '(no experiments yet)';
  const listed = results.slice(-LISTED_RESULTS);
  const lines = listed.map(
    (r) => `${r.n}\t${r.status}\t${r.metric === undefined ? '-' : r.metric.toFixed(6)}\t${r.description}`,
  );
  const older = earlier + results.length - listed.length;
  return [
    ...(older > 0 ? [`(${older} earlier experiments not listed)`] : []),
    'exp\tstatus\tmetric\tdescription',
    ...lines,
  ].join('\n');
}

export function userPrompt(ctx: PromptContext, mode: AnswerMode = 'tool'): string {
  const parts = [
    `# Experiment ${ctx.n}`,
    '',
    '## Results so far (the best kept result is the current baseline)',
    resultsTable(ctx.results, ctx.earlierResults),
    '',
    '## The editable files, as of the current best',
    ...Object.entries(ctx.editable).map(([name, text]) => fence(name, text)),
  ];
  if (ctx.notes.length > 0)
    parts.push('', '## Notes from the human operator (follow them)', ...ctx.notes.map((n) => `- ${n}`));
  if (ctx.idea)
    parts.push(
      '',
      '## The operator queued this idea for this experiment: implement it (and only it)',
      ctx.idea,
    );
  if (ctx.lastCrash)
    parts.push(
      '',
      `## Experiment ${ctx.lastCrash.n} crashed: ${ctx.lastCrash.description}`,
      ctx.lastCrash.reason ?? '',
      'Tail of its log (if the mistake is trivial, e.g. a typo or a missing import, fixing it is a fine next experiment):',
      '```',
      ctx.lastCrash.logTail,
      '```',
    );
  parts.push(
    '',
    mode === 'tool'
      ? 'Propose the next experiment with the propose_edit tool.'
      : "Make the next experiment's edit now.",
  );
  return parts.join('\n');
}
