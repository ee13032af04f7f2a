// The research loop, as program.md tells it: run the baseline; then forever propose an edit to the
// best code so far, train it for the fixed budget, score it, keep it if it is better (by the run's keep
// rule: strictly, or beyond the noise), else discard.
// Deterministic: every side effect is an activity; the state and its rules live in RunState, and how
// experiments share the slots (parallel, pipelined) in the Scheduler.
import {
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { STATUS, TAG, TARGET } from '../common/searchAttributes';
import type { RunOptions, RunSummary } from '../common/types';
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
import { RunState, targetName, type RunSnapshot } from './runState';
import { Scheduler, control, controlOptions } from './scheduler';

export async function researchLoop(options: RunOptions, snapshot?: RunSnapshot): Promise<RunSummary> {
  const state = RunState.start(options, snapshot);
  const scheduler = new Scheduler(state, CancellationScope.current());

  setHandler(pauseSignal, (how?: PauseOptions) => {
    state.pause();
    if (how?.now) scheduler.cancelInFlight();
  });
  setHandler(resumeSignal, () => state.resume());
  setHandler(stopSignal, () => state.stop());
  setHandler(redirectUpdate, (note) => (state.addNote(note), [...state.notes]), {
    validator: (note) => void state.checkNote(note),
  });
  setHandler(
    queueUpdate,
    (idea) => {
      state.queueIdea(idea);
      // The answer is the queue with the new idea in it, before a proposal takes it.
      const queue = state.queue;
      scheduler.ideaQueued();
      return queue;
    },
    {
      validator: (idea) => void state.checkIdea(idea),
    },
  );
  setHandler(
    limitsUpdate,
    (change) => {
      state.setLimits(state.checkLimits(change, Date.now()));
      return {
        maxExperiments: state.options.maxExperiments ?? null,
        deadline: state.options.deadline ?? null,
      };
    },
    { validator: (change) => void state.checkLimits(change, Date.now()) },
  );
  setHandler(statusQuery, () => state.status());

  if (options.searchAttributes)
    upsertSearchAttributes([
      { key: TAG, value: options.tag },
      { key: TARGET, value: targetName(options.repo) },
      { key: STATUS, value: state.label },
    ]);

  if (!state.prepared) {
    scheduler.showRun('preparing', `Preparing target ${options.repo}`);
    state.setPrepared(
      await control.prepareRun.executeWithOptions(
        controlOptions(options, `prepare ${options.tag}: validate target, create branch`),
        [
          {
            repo: options.repo,
            tag: options.tag,
            budgetSeconds: options.budgetSeconds,
            timeoutSeconds: options.timeoutSeconds,
            // Pinned at start (runs started before that lack it: prepare reads HEAD, as it did).
            ...(options.baseline ? { baseline: options.baseline } : {}),
            ...(options.remote ? { remote: options.remote } : {}),
          },
        ],
      ),
    );
  }

  if ((await scheduler.run()) === 'continue-as-new') {
    // Keep the history bounded: a new execution carries the state (the limits as last changed, and the
    // proposals made ahead); let in-flight handlers finish first.
    await condition(allHandlersFinished);
    return await continueAsNew<typeof researchLoop>(state.options, state.snapshot());
  }

  const summary = state.summary();
  scheduler.showRun(
    summary.reason === 'stopped' ? 'stopped' : 'finished',
    `Finished (${summary.reason}): ${summary.experimentsDone} experiments, best ${state.best?.metric ?? 'n/a'} (experiment ${state.best?.n ?? '-'})`,
  );
  await condition(allHandlersFinished);
  return summary;
}
