// Rebasing ahead, so that a keep costs no time between two trainings. With pipelining, the next
// proposal waits for a slot while a candidate trains on the same best. If that candidate is kept, the
// proposal must be replayed onto it before it trains, and that rebase sat between the two trainings.
// So as soon as the proposal is made, it is replayed onto the candidate in training (the one that ends
// first: it started first), under a ref of its own; if that candidate is kept, the slot trains the
// replayed commit at once; if it is discarded, the proposal trains as proposed and the replay is
// dropped. Either way the record step settles the refs (activities/record.ts).
import type { CancellationScope } from '@temporalio/workflow';
import type { Candidate } from '../common/types';
import { rebasesAhead } from './compat';
import type { RunState } from './runState';
import * as steps from './steps';

/** A proposal's edit replayed onto a candidate still in training. */
interface RebasedAhead {
  /** The candidate in training it was replayed onto. */
  onto: string;
  /** What `exp/<n>` holds until the experiment is recorded: the candidate as proposed. */
  proposed: string;
  /** The replayed commit; null when the edit does not apply there (the ordinary rebase then runs). */
  commit: Promise<string | null>;
}

export class Speculation {
  /** Valid candidates in training (or being scored), in the order they started. */
  private training = new Map<number, Candidate>();
  private ahead = new Map<number, RebasedAhead>();

  constructor(private readonly state: RunState) {}

  /** Candidate `c` trains now, until `done(c.n)`. */
  started(c: Candidate): void {
    this.training.set(c.n, c);
  }
  done(n: number): void {
    this.training.delete(n);
  }

  /**
   * Proposal `c` is made and waits for a slot: replay it onto the first candidate in training on the
   * same best, if there is one, in the proposal's scope (a `pause --now` or the run's end cancels both).
   */
  proposed(c: Candidate, scope: CancellationScope): void {
    if (c.invalid || c.parent !== this.state.parentCommit) return;
    const target = [...this.training.values()].find((t) => t.parent === c.parent && t.commit !== c.parent);
    if (!target || !rebasesAhead()) return;
    const commit = scope
      .run(() => steps.rebase(this.state, c.n, c, target.commit, { n: target.n }))
      .then(
        (rebased) => ('commit' in rebased ? rebased.commit : null),
        // Only a head start: whatever stopped it, the ordinary rebase does the same work (and, if the
        // cause persists, fails with it where the experiment can say so).
        () => null,
      );
    this.ahead.set(c.n, { onto: target.commit, proposed: c.commit, commit });
  }

  /** Experiment `n`'s edit replayed onto `onto`, if it was rebased ahead onto exactly that commit. */
  async rebasedOnto(n: number, onto: string): Promise<string | null> {
    const ahead = this.ahead.get(n);
    return ahead?.onto === onto ? await ahead.commit : null;
  }

  /** What experiment `n`'s record step needs to settle its refs (and forgets it): none if not rebased ahead. */
  settle(n: number): { proposed: string } | undefined {
    const ahead = this.ahead.get(n);
    this.ahead.delete(n);
    return ahead ? { proposed: ahead.proposed } : undefined;
  }
}
