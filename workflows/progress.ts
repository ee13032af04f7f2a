// What the run is doing now: the experiments in flight and the phase each is in, and the run's own
// phase (preparing, paused, finished ...) when none is. Only `status` and the UI read it: no decision
// depends on it, so it is not carried across continue-as-new.
import type { ActiveExperiment, ExperimentPhase, Phase } from '../common/types';

/** Which experiment the run's phase names when several are in flight: the one using the GPU first. */
const PHASE_WEIGHT: Record<ExperimentPhase, number> = {
  training: 4,
  evaluating: 3,
  recording: 2,
  proposing: 1,
  ready: 0,
};

export class Progress {
  /** The run's own phase (preparing, paused, finished ...), shown while no experiment is in flight. */
  private basePhase: Phase = 'preparing';
  private basePhaseSince: number | null = null;
  /** Experiments in flight in this execution (several with --parallel, or a proposal made ahead). */
  private active = new Map<number, ActiveExperiment>();

  /** The run enters a phase of its own (`at` null: a run read after it ended, with no clock to show). */
  enterPhase(phase: Phase, at: number | null): void {
    if (phase !== this.basePhase) this.basePhaseSince = at;
    this.basePhase = phase;
  }

  /** Experiment `n` enters a phase (its number was claimed, so it is in flight until `settled`). */
  track(n: number, phase: ExperimentPhase, at: number, description?: string | null): void {
    const was = this.active.get(n);
    this.active.set(n, {
      n,
      phase,
      since: was?.phase === phase ? was.since : at,
      description: description === undefined ? (was?.description ?? null) : description,
    });
  }

  /**
   * Experiment `n` is recorded; the run shows its last phase until the next one begins, unless the run
   * entered a phase of its own meanwhile (it paused while the record was written), or is paused and
   * shows it (it paused itself before this experiment even finished: a proposer that gave up).
   */
  settled(n: number, paused: boolean): void {
    const was = this.active.get(n);
    this.active.delete(n);
    const newer =
      (this.basePhaseSince !== null && this.basePhaseSince >= (was?.since ?? 0)) ||
      (paused && this.basePhase === 'paused');
    if (was && was.phase !== 'ready' && !this.lead && !newer) {
      this.basePhase = was.phase;
      this.basePhaseSince = was.since;
    }
  }

  /** Experiment `n` is no longer in flight and shows nothing (its number was given back). */
  forget(n: number): void {
    this.active.delete(n);
  }

  /** The experiment the run's phase is about: the first training, else the first evaluating, and so on. */
  get lead(): ActiveExperiment | undefined {
    if (this.basePhase === 'finished' || this.basePhase === 'stopped') return undefined;
    let lead: ActiveExperiment | undefined;
    for (const a of this.active.values())
      if (a.phase === 'ready') continue;
      else if (
        !lead ||
        PHASE_WEIGHT[a.phase] > PHASE_WEIGHT[lead.phase] ||
        (a.phase === lead.phase && a.n < lead.n)
      )
        lead = a;
    return lead;
  }

  get phase(): Phase {
    const lead = this.lead;
    return lead && lead.phase !== 'ready' ? lead.phase : this.basePhase;
  }
  /** Workflow time (ms) when the current phase began: with the budget, a progress bar for training. */
  get phaseStartedAt(): number | null {
    return this.lead ? this.lead.since : this.basePhaseSince;
  }
  get inFlight(): ActiveExperiment[] {
    return [...this.active.values()].sort((a, b) => a.n - b.n).map((a) => ({ ...a }));
  }
  /** Whether the run has ended (its last phase is set once the summary is made). */
  get ended(): boolean {
    return this.phase === 'finished' || this.phase === 'stopped';
  }
}
