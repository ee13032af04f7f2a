// What a person sees of a live run, in one place: the Web UI's current details (what it does now) and
// the search attributes (the run list's columns). Control flow calls it at clear points (an experiment
// enters a phase, the run enters one of its own, a record is written); nothing here decides anything.
// An upsert is a command in the history, so each is issued only when its value changes.
import { setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import { BEST_METRIC, EXPERIMENTS, KEPT, PHASE, STATUS, TAG, TARGET } from '../common/searchAttributes';
import type { ExperimentPhase, Phase, RunSummary } from '../common/types';
import { currentDetails } from './details';
import { targetName } from './projections';
import type { RunState } from './runState';

export class Display {
  /** The phase and label last written to the search attributes (one upsert per change). */
  private shown: string | null = null;

  constructor(private readonly state: RunState) {}

  private get attributes(): boolean {
    return this.state.options.searchAttributes;
  }

  /** The run's columns: which run, on which target, in which state. */
  started(): void {
    const { options } = this.state;
    if (!this.attributes) return;
    upsertSearchAttributes([
      { key: TAG, value: options.tag },
      { key: TARGET, value: targetName(options.repo) },
      { key: STATUS, value: this.state.label },
    ]);
  }

  /** Experiment `n` enters a phase, and the run shows it. */
  experiment(n: number, phase: ExperimentPhase, description?: string | null): void {
    this.state.progress.track(n, phase, Date.now(), description);
    this.show();
  }

  /** The run's own phase (preparing, paused, stopped ...), shown while no experiment is in flight. */
  run(phase: Phase, headline: string): void {
    this.state.progress.enterPhase(phase, Date.now());
    this.show(headline);
  }

  /** The run waits for `resume`, and says why when it paused itself. */
  paused(): void {
    const state = this.state;
    this.run(
      'paused',
      `${state.pausedReason ? `Paused: ${state.pausedReason}` : `Paused after ${state.experimentsDone} experiments`}; ` +
        'signal "resume" to continue',
    );
  }

  /** The run has ended with its summary. */
  ended(summary: RunSummary): void {
    const best = this.state.best;
    this.run(
      summary.reason === 'stopped' ? 'stopped' : 'finished',
      `Finished (${summary.reason}): ${summary.experimentsDone} experiments, best ${best?.metric ?? 'n/a'} (experiment ${best?.n ?? '-'})`,
    );
  }

  /** A record is written: the run list's counts and best follow. */
  recorded(): void {
    const state = this.state;
    if (!this.attributes) return;
    upsertSearchAttributes([
      { key: EXPERIMENTS, value: state.experimentsDone },
      { key: KEPT, value: state.kept },
    ]);
    if (state.best) upsertSearchAttributes([{ key: BEST_METRIC, value: state.best.metric }]);
  }

  /** Shows what the run does now: the UI's current details, and the search attributes when they change. */
  private show(headline?: string): void {
    const state = this.state;
    setCurrentDetails(currentDetails(state, headline ?? this.headline()));
    const key = `${state.progress.phase}/${state.label}`;
    if (!this.attributes || key === this.shown) return;
    this.shown = key;
    upsertSearchAttributes([
      { key: PHASE, value: state.progress.phase },
      { key: STATUS, value: state.label },
    ]);
  }

  /** What the UI's current details lead with: the experiment(s) in flight, or the run's own phase. */
  private headline(): string {
    const { progress } = this.state;
    const lines = progress.inFlight.map(
      (a) => `Experiment ${a.n} ${a.phase}${a.description ? `: ${a.description}` : ''}`,
    );
    if (lines.length === 1) return lines[0]!;
    if (lines.length > 1) return `${lines.length} experiments in flight: ${lines.join('; ')}`;
    return `Run ${progress.phase}`;
  }
}
