// Dollars per million tokens, by model family, to put a price on each proposal. Estimates from the
// published list prices; the proposer writes 1-hour cache entries (2x input) and reads them at 0.1x input.
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  cacheCreationTokens: number;
  cacheReadTokens: number;
}

import type { ProposalCost } from '../common/types';

export type { ProposalCost };

const PER_MILLION: Array<[RegExp, { input: number; output: number }]> = [
  [/opus-4-[01]|opus-3/, { input: 15, output: 75 }],
  [/opus/, { input: 5, output: 25 }],
  [/haiku/, { input: 1, output: 5 }],
  [/sonnet|.*/, { input: 3, output: 15 }],
];

export function priceOf(model: string, usage: TokenUsage): number {
  const price = PER_MILLION.find(([re]) => re.test(model))![1];
  const dollars =
    (usage.inputTokens * price.input +
      usage.cacheCreationTokens * price.input * 2 +
      usage.cacheReadTokens * price.input * 0.1 +
      usage.outputTokens * price.output) /
    1e6;
  return Math.round(dollars * 1e6) / 1e6;
}

/** Nothing spent yet. */
export function noSpend(): ProposalCost {
  return { inputTokens: 0, outputTokens: 0, cacheCreationTokens: 0, cacheReadTokens: 0, dollars: 0 };
}

/** Two costs added up (dollars rounded to the micro-dollar, so sums stay readable). */
export function addCost(a: ProposalCost, b: ProposalCost): ProposalCost {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheCreationTokens: a.cacheCreationTokens + b.cacheCreationTokens,
    cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
    dollars: Math.round((a.dollars + b.dollars) * 1e6) / 1e6,
  };
}

/** Every token a cost counts: input, output, cache writes and cache reads. */
export function totalTokens(cost: TokenUsage): number {
  return cost.inputTokens + cost.outputTokens + cost.cacheCreationTokens + cost.cacheReadTokens;
}
