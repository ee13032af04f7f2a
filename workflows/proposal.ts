// The first two steps of an experiment: ask the proposer for an edit to the best so far (pausing the
// run when the proposer refuses for a reason a person must fix), and, when the best has moved since the
// edit was proposed, rebase it onto the new best (proposing again if it no longer applies).
import { ActivityFailure, ApplicationFailure, CancellationScope, condition } from '@temporalio/workflow';
import type { Candidate } from '../common/types';
import type { Display } from './display';
import type { RunState } from './runState';
import type { Speculation } from './speculation';
import * as steps from './steps';
import { ERROR_TYPE } from '../common/names';

/** A claimed experiment number and its proposal, made now or ahead of a free slot. */
export interface Proposal {
  n: number;
  idea?: string;
  /** Everything the experiment does runs in here: `pause --now` cancels it. */
  scope: CancellationScope;
  /** null: the run ended while the proposer waited for a person (it had refused). */
  result: Promise<Candidate | null>;
}

/** What the proposal steps work with. */
export interface Proposing {
  state: RunState;
  display: Display;
}

/** A proposal already made: the baseline (the target as it is), or one carried over from the previous execution. */
export function madeProposal(candidate: Candidate, root: CancellationScope): Proposal {
  return {
    n: candidate.n,
    ...(candidate.idea !== undefined ? { idea: candidate.idea } : {}),
    scope: new CancellationScope({ cancellable: true, parent: root }),
    result: Promise.resolve(candidate),
  };
}

/**
 * Asks the proposer; when it refuses for a reason a person must fix (a bad API key, an unknown model),
 * the run pauses and says why, and `resume` asks again for the same number. Null: stopped meanwhile.
 */
export async function proposeUntilAnswered(
  run: Proposing,
  n: number,
  claimedIdea: string | undefined,
  round = 0,
): Promise<Candidate | null> {
  const { state, display } = run;
  let idea = claimedIdea;
  for (;;) {
    display.experiment(n, 'proposing', idea !== undefined ? `queued idea: ${idea}` : null);
    try {
      const candidate = await steps.propose(state, n, idea, round);
      // Made ahead, it waits for a slot; the run's phase is about the experiments doing something.
      state.progress.track(n, 'ready', Date.now(), candidate.description);
      return idea !== undefined ? { ...candidate, idea } : candidate;
    } catch (err) {
      if (
        !(err instanceof ActivityFailure) ||
        !(err.cause instanceof ApplicationFailure) ||
        err.cause.type !== ERROR_TYPE.proposerRefused
      )
        throw err;
      state.progress.settled(n, state.paused);
      state.pause(err.cause.message);
      display.paused();
      await condition(() => !state.paused || state.stopRequested);
      if (state.stopRequested) {
        if (idea !== claimedIdea) state.input.returnIdea(idea);
        return null;
      }
      // What a person queued while the run waited is the way out (e.g. a value for `mutate` to try).
      idea ??= state.input.takeIdea();
    }
  }
}

/**
 * A proposal made on an older best is replayed onto the best as it is now (already done, if it was
 * rebased ahead onto the candidate that became the best); when its edit no longer applies there, the
 * proposer is asked again on the new best.
 */
export async function freshen(
  run: Proposing & { slots: { speculation: Speculation } },
  p: Proposal,
  proposed: Candidate | null,
): Promise<Candidate | null> {
  const { state } = run;
  let candidate = proposed;
  for (let round = 1; candidate && !candidate.invalid && candidate.parent !== state.parentCommit; round++) {
    const onto = state.parentCommit;
    const ahead = round === 1 ? await run.slots.speculation.rebasedOnto(p.n, onto) : null;
    if (ahead) return { ...candidate, parent: onto, commit: ahead };
    const rebased = await steps.rebase(state, p.n, candidate, onto);
    if ('commit' in rebased) return { ...candidate, parent: onto, commit: rebased.commit };
    candidate = await proposeUntilAnswered(run, p.n, p.idea, round);
  }
  return candidate;
}

/** What stands in the record of a number whose proposal never came (cancelled, or the run ended first). */
export function unproposed(state: RunState, p: Proposal, description: string): Candidate {
  return {
    n: p.n,
    parent: state.parentCommit,
    commit: state.parentCommit,
    description,
    ...(p.idea !== undefined ? { idea: p.idea } : {}),
  };
}
