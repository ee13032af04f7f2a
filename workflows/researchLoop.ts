// The research loop, as program.md tells it: run the baseline; then forever propose an edit to the
// best code so far, train it for the fixed budget, score it, keep it if it is better (by the run's keep
// rule: strictly, or beyond the noise), else discard (one experiment: experiment.ts).
// Deterministic: every side effect is an activity (steps.ts); the state and its rules live in
// RunState, how experiments share the slots in Slots, what a person sees in Display.
import {
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  setHandler,
} from '@temporalio/workflow';
import type { RunOptions, RunSummary } from '../common/types';
import { baselineProposal } from './baseline';
import { Display } from './display';
import { runExperiment, type Run } from './experiment';
import {
  limitsUpdate,
  pauseSignal,
  queueUpdate,
  redirectUpdate,
  resumeSignal,
  statusQuery,
  stopSignal,
  type PauseOptions,
} from './messages';
import { checkLimits, checkNote } from './operatorInput';
import { Recorder } from './recorder';
import { RunState, type RunSnapshot } from './runState';
import { Slots } from './slots';
import * as steps from './steps';

export async function researchLoop(options: RunOptions, snapshot?: RunSnapshot): Promise<RunSummary> {
  const state = RunState.start(options, snapshot);
  const root = CancellationScope.current();
  const display = new Display(state);
  const recorder = new Recorder(state, display);
  const slots = new Slots(state, display, recorder, root);
  const run: Run = { state, display, slots, recorder };

  setHandler(pauseSignal, (how?: PauseOptions) => {
    state.pause();
    if (how?.now) slots.cancelInFlight();
  });
  setHandler(resumeSignal, () => state.resume());
  setHandler(stopSignal, () => state.stop());
  setHandler(
    redirectUpdate,
    (note) => (state.input.addNote(note, state.inputContext), [...state.input.notes]),
    {
      validator: (note) => void checkNote(note, state.inputContext),
    },
  );
  setHandler(
    queueUpdate,
    (idea) => {
      state.input.queueIdea(idea, state.inputContext);
      // The answer is the queue with the new idea in it, before a proposal takes it.
      const queue = state.input.queue;
      slots.ideaQueued();
      return queue;
    },
    { validator: (idea) => void state.input.checkIdea(idea, state.inputContext) },
  );
  setHandler(
    limitsUpdate,
    (change) => {
      state.setLimits(checkLimits(change, Date.now(), state.inputContext));
      return {
        maxExperiments: state.options.maxExperiments ?? null,
        deadline: state.options.deadline ?? null,
      };
    },
    { validator: (change) => void checkLimits(change, Date.now(), state.inputContext) },
  );
  setHandler(statusQuery, () => state.status());

  display.started();
  if (!state.prepared) {
    display.run('preparing', `Preparing target ${options.repo}`);
    state.setPrepared(await steps.prepare(options));
  }

  if ((await runExperiments(run, root)) === 'continue-as-new') {
    // Keep the history bounded: a new execution carries the state (the limits as last changed, and the
    // proposals made ahead); let in-flight handlers finish first.
    await condition(allHandlersFinished);
    return await continueAsNew<typeof researchLoop>(state.options, state.snapshot());
  }

  const summary = state.summary();
  display.ended(summary);
  await condition(allHandlersFinished);
  return summary;
}

/** Runs experiments on the slots until the run is finished, or until it should continue as new. */
async function runExperiments(run: Run, root: CancellationScope): Promise<'finished' | 'continue-as-new'> {
  const { state, slots } = run;
  while (slots.mayStartExperiment) {
    if (state.experimentsDone === 0) {
      // The baseline runs alone: nothing can be decided before it is scored.
      if (await slots.untilMayStartExperiment()) await runExperiment(run, baselineProposal(state, root));
      continue;
    }
    await Promise.all(Array.from({ length: slots.count }, () => slot(run)));
  }
  await run.recorder.written;
  if (!slots.hasWorkLeft) {
    await slots.dropReady();
    return 'finished';
  }
  state.setReady(await slots.carryOver());
  return 'continue-as-new';
}

/** One slot: take the next proposal (or make one), run its experiment; again until none may start. */
async function slot(run: Run): Promise<void> {
  while (await run.slots.untilMayStartExperiment()) {
    const proposal = run.slots.next();
    if (!proposal) return;
    await runExperiment(run, proposal);
  }
}
