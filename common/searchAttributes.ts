// The run's columns in the Web UI's workflow list. Few and typed, within the Postgres visibility limits
// (at most 3 Double/Int and 10 Keyword custom attributes). Workflow-safe: no Node APIs here.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** The run's tag (also the end of its workflow id). */
export const TAG = defineSearchAttributeKey('AutoresearchTag', SearchAttributeType.KEYWORD);
/** The target's name: its repository folder's name. */
export const TARGET = defineSearchAttributeKey('AutoresearchTarget', SearchAttributeType.KEYWORD);
/** running | paused | stopping | finished | stopped: what a person filters the list by. */
export const STATUS = defineSearchAttributeKey('AutoresearchStatus', SearchAttributeType.KEYWORD);
/** The step in flight: preparing, proposing, training, evaluating, recording ... */
export const PHASE = defineSearchAttributeKey('AutoresearchPhase', SearchAttributeType.KEYWORD);
export const BEST_METRIC = defineSearchAttributeKey('AutoresearchBestMetric', SearchAttributeType.DOUBLE);
export const EXPERIMENTS = defineSearchAttributeKey('AutoresearchExperiments', SearchAttributeType.INT);
export const KEPT = defineSearchAttributeKey('AutoresearchKept', SearchAttributeType.INT);

export const ALL_SEARCH_ATTRIBUTES = [TAG, TARGET, STATUS, PHASE, BEST_METRIC, EXPERIMENTS, KEPT];

/** The `--search-attribute name=Type` flags of `temporal server start-dev` that register them. */
export function devServerSearchAttributeFlags(): string[] {
  const cliType: Record<string, string> = { KEYWORD: 'Keyword', DOUBLE: 'Double', INT: 'Int' };
  return ALL_SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=${cliType[key.type]}`]);
}
