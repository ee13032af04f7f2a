// What every proposer is asked and what it answers: the proposal step's input, the edit it returns,
// and where its files for one experiment are named. The step itself (the candidate commit, its ref,
// publishing it) is activities/propose.ts; which proposer answers is proposers/index.ts.
import path from 'node:path';
import type { Candidate, ClaudeSettings, CommandSettings, ProposerKind, TargetConfig } from '../common/types';
import type { AgentAllowlist } from './command/allowlist';

export interface ProposeInput {
  repo: string;
  tag: string;
  n: number;
  parent: string;
  proposer: ProposerKind;
  seed: number;
  config: TargetConfig;
  /** Operator redirect notes, newest last (used by LLM proposers). */
  notes: string[];
  /** An idea the operator queued for this experiment: prose for LLM proposers, NAME=value for mutate. */
  idea?: string;
  /**
   * Counts the proposals for this number after an earlier one no longer applied to a newer best
   * (pipelining): each round asks afresh. Absent = the first.
   */
  round?: number;
  /** The run's directory: the results so far, and where an LLM's answer is saved against retries. */
  runDir: string;
  claude?: ClaudeSettings;
  command?: CommandSettings;
  /** The run's git remote: the candidate is published there, where training workers fetch it. */
  remote?: string;
}

/** What the worker running the step adds: its own allowlist, and the activity's attempt and cancellation. */
export interface ProposerRuntime {
  /** What this worker lets the command proposer run (see proposers/command/allowlist.ts). */
  agents: AgentAllowlist;
  /** Temporal's attempt number of the proposal step (1 for the first). */
  attempt?: number;
  /** Aborted when the step is cancelled (`pause --now`, a timeout). */
  cancel?: AbortSignal;
}

/** An edit: new contents of some files, and the tree they make on the parent when already known. */
export interface Edit {
  files: Record<string, string>;
  description: string;
  tree?: string;
  /** What the proposer adds to the candidate (hypothesis, cost). */
  extra?: Pick<Candidate, 'hypothesis' | 'cost'>;
  invalid?: string;
}

/** The name a proposal's files share in the run's proposals folder: exp-0007, exp-0007-round2. */
export function proposalName(n: number, round?: number): string {
  return `exp-${String(n).padStart(4, '0')}${round ? `-round${round}` : ''}`;
}

export function proposalsDir(input: Pick<ProposeInput, 'runDir'>): string {
  return path.join(input.runDir, 'proposals');
}
