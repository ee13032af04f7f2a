// How experiments share the slots: up to `count` experiments are in flight, each on its own slot; with
// pipelining the next proposal is made while a slot trains, so a slot goes from one training to the
// next without waiting for the proposer. This only hands out slots and proposals, and gives back the
// numbers of proposals nothing will train; what an experiment does is experiment.ts.
// With one slot and no pipelining this is program.md's loop, one step after the other.
//
// When an experiment may start, in one set of predicates (the operator's flags `paused` and
// `stopRequested`, and the run's `mustEnd` and `mayClaimNumber`, live in RunState):
//   hasWorkLeft         the run need not end, and numbers are left to claim or proposals wait for a slot
//   continuingAsNew     the history is long enough: nothing new starts, the run continues as new
//   mayStartExperiment  hasWorkLeft and not continuingAsNew (paused or not)
//   mayStartProposal    the baseline has its number, and the run is neither paused, out of numbers,
//                       nor continuing as new
import { CancellationScope, condition, isCancellation, workflowInfo } from '@temporalio/workflow';
import type { Candidate } from '../common/types';
import { pipelined, slotCount } from './compat';
import type { Display } from './display';
import { madeProposal, proposeUntilAnswered, unproposed, type Proposal } from './proposal';
import { decide, type Recorder } from './recorder';
import type { RunState } from './runState';
import { Speculation } from './speculation';

export class Slots {
  readonly count: number;
  readonly pipelined: boolean;
  /** Proposals made ahead, in number order: the next free slot takes the first. */
  private ready: Proposal[] = [];
  /** Experiments a slot has taken (proposal included): what `pause --now` cancels. */
  private taken = new Map<number, Proposal>();
  private continuingAsNew = false;
  /** Proposals made ahead are rebased ahead onto the candidates in training. */
  readonly speculation: Speculation;

  constructor(
    private readonly state: RunState,
    private readonly display: Display,
    private readonly recorder: Recorder,
    private readonly root: CancellationScope,
  ) {
    this.count = slotCount(state.options);
    this.pipelined = pipelined(state.options);
    this.speculation = new Speculation(state);
    for (const candidate of state.takeReady()) this.ready.push(madeProposal(candidate, root));
  }

  get hasWorkLeft(): boolean {
    return !this.state.mustEnd && (this.ready.length > 0 || this.state.mayClaimNumber);
  }
  get mayStartExperiment(): boolean {
    return this.hasWorkLeft && !this.continuingAsNew;
  }
  private get mayStartProposal(): boolean {
    const state = this.state;
    return state.nextExperiment > 0 && !state.paused && state.mayClaimNumber && !this.continuingAsNew;
  }

  /** Waits while the run is paused; then whether an experiment may start. */
  async untilMayStartExperiment(): Promise<boolean> {
    const state = this.state;
    while (state.paused && this.mayStartExperiment) {
      this.display.paused();
      await condition(() => !state.paused || state.stopRequested || this.continuingAsNew);
    }
    return this.mayStartExperiment;
  }

  /** The proposal a free slot trains next: the first made ahead, else a new one; null if none may start. */
  next(): Proposal | null {
    return this.ready.shift() ?? this.propose();
  }

  /** A slot takes experiment `p` (until `release`): `pause --now` cancels it. */
  take(p: Proposal): void {
    this.taken.set(p.n, p);
  }
  release(n: number): void {
    this.taken.delete(n);
    this.speculation.done(n);
  }

  /** `pause --now`: cancel every experiment a slot has taken (proposals made ahead wait for resume). */
  cancelInFlight(): void {
    for (const p of this.taken.values()) p.scope.cancel();
  }

  /**
   * An idea was queued: it goes first. With pipelining its proposal starts now and trains before the
   * proposals made ahead of it; otherwise the next proposal takes it.
   */
  ideaQueued(): void {
    if (!this.pipelined || !this.mayStartProposal) return;
    const proposal = this.propose(true);
    if (proposal) this.ready.unshift(proposal);
  }

  /** With pipelining: proposals for the slots that are training, ready when each of them is free. */
  proposeAhead(): void {
    if (!this.pipelined) return;
    while (this.ready.length < this.count) {
      const proposal = this.propose(true);
      if (!proposal) return;
      this.ready.push(proposal);
    }
  }

  /** An experiment is recorded: once the history is long enough, nothing new starts. */
  experimentDone(): void {
    if (this.hasWorkLeft && this.continueAsNewDue()) this.continuingAsNew = true;
  }

  /**
   * A claimed number whose experiment never trained because the run ended first. Given back when it is
   * the last one claimed (proposals made ahead always are), its proposal's cost still counted and its
   * idea back in the queue (its candidate ref stays, unrecorded); otherwise recorded as cancelled, so
   * every number still appears exactly once.
   */
  async abandon(p: Proposal, candidate: Candidate | null): Promise<void> {
    const { state } = this;
    const speculation = this.speculation.settle(p.n);
    if (p.n === state.nextExperiment - 1) {
      state.addSpend(candidate?.cost);
      state.unclaim(p.n);
      state.input.returnIdea(candidate ? candidate.idea : p.idea);
      return;
    }
    const reason = state.stopRequested ? 'the run stopped' : 'the run ended';
    const record = decide(
      state,
      candidate ?? unproposed(state, p, 'not proposed'),
      { status: 'cancelled', reason: `not trained: ${reason} first` },
      undefined,
      Date.now(),
    );
    await this.recorder.record(record, speculation);
  }

  /** Proposals made ahead when the run ends: nothing trains them, so their numbers are given back. */
  async dropReady(): Promise<void> {
    const proposals = this.ready.splice(0);
    for (const p of proposals) p.scope.cancel();
    // The last claimed first: each is then the last one when its number is given back.
    for (const p of proposals.sort((a, b) => b.n - a.n)) {
      const candidate = await p.result.catch((err: unknown) => {
        if (isCancellation(err)) return null;
        throw err;
      });
      await this.abandon(p, candidate);
    }
  }

  /** Proposals made ahead when the run continues as new: the next execution trains them first. */
  async carryOver(): Promise<Candidate[]> {
    const carried: Candidate[] = [];
    for (const p of this.ready.splice(0)) {
      const candidate = await p.result;
      if (candidate) carried.push(candidate);
      else await this.abandon(p, null);
    }
    await this.recorder.written;
    return carried;
  }

  /**
   * Claims the next number and starts its proposal, on the best as it is now; null if none may start.
   * Made `ahead` of a free slot, it is rebased ahead once made (workflows/speculation.ts).
   */
  private propose(ahead = false): Proposal | null {
    if (!this.mayStartProposal) return null;
    const n = this.state.claim();
    const idea = this.state.input.takeIdea();
    const scope = new CancellationScope({ cancellable: true, parent: this.root });
    const result = scope.run(() =>
      proposeUntilAnswered({ state: this.state, display: this.display }, n, idea),
    );
    // Registered before any slot awaits the result, and with no step of its own in the result's
    // chain: runs recorded before rebasing ahead see their steps in the order they were recorded.
    if (ahead)
      result.then(
        (candidate) => candidate && this.speculation.proposed(candidate, scope),
        () => undefined,
      );
    // Awaited later (by a slot, or when the run ends); a failure is handled there, not as unhandled.
    result.catch(() => undefined);
    return { n, ...(idea !== undefined ? { idea } : {}), scope, result };
  }

  private continueAsNewDue(): boolean {
    return (
      workflowInfo().continueAsNewSuggested ||
      this.state.finishedThisExecution >= this.state.options.experimentsPerRun
    );
  }
}
