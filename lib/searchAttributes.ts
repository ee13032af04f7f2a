// The run's columns in the Web UI's workflow list. Few and typed, within the Postgres visibility limits
// (at most 3 Double/Int and 10 Keyword custom attributes). Workflow-safe: no Node APIs here.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const TAG = defineSearchAttributeKey('AutoresearchTag', SearchAttributeType.KEYWORD);
export const PHASE = defineSearchAttributeKey('AutoresearchPhase', SearchAttributeType.KEYWORD);
export const BEST_METRIC = defineSearchAttributeKey('AutoresearchBestMetric', SearchAttributeType.DOUBLE);
export const EXPERIMENTS = defineSearchAttributeKey('AutoresearchExperiments', SearchAttributeType.INT);

export const ALL_SEARCH_ATTRIBUTES = [TAG, PHASE, BEST_METRIC, EXPERIMENTS];

/** The `--search-attribute name=Type` flags of `temporal server start-dev` that register them. */
export function devServerSearchAttributeFlags(): string[] {
  const cliType: Record<string, string> = { KEYWORD: 'Keyword', DOUBLE: 'Double', INT: 'Int' };
  return ALL_SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=${cliType[key.type]}`]);
}
