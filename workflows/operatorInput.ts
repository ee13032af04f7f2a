// What a person sends a live run: notes every later proposal sees (redirect), ideas to try next
// (queue), and new limits (limits), with the update validators that refuse bad input before it is
// recorded. A refusal is an ApplicationFailure: the update fails with the message, the run goes on.
import { ApplicationFailure } from '@temporalio/common';
import { CONSTANT_IDEA } from '../proposers/mutate/rules';
import type { LimitsChange, ProposerKind, RunOptions } from '../common/types';

/** Operator notes kept (newest last); older ones have already been shown to the proposer. */
const MAX_NOTES = 20;
const MAX_NOTE_LENGTH = 2000;
/** Queued ideas waiting at once; a longer plan belongs in program.md. */
const MAX_QUEUE = 50;

/** The operator's notes and queue, as the run's snapshot carries them (this edits them in place). */
interface OperatorLists {
  notes: string[];
  queue: string[];
}

/** Where the run is, as far as a validator needs to know. */
export interface InputContext {
  /** Stopping or ended: input would have no effect. */
  ending: boolean;
  proposer: ProposerKind;
  /** Numbers claimed so far (the baseline's included). */
  claimed: number;
}

export class OperatorInput {
  constructor(private readonly lists: OperatorLists) {}

  get notes(): readonly string[] {
    return this.lists.notes;
  }
  /** The ideas queued, in the order the next proposals take them. */
  get queue(): string[] {
    return [...this.lists.queue];
  }

  addNote(note: string, context: InputContext): void {
    const notes = this.lists.notes;
    notes.push(checkNote(note, context));
    if (notes.length > MAX_NOTES) notes.splice(0, notes.length - MAX_NOTES);
  }
  queueIdea(idea: string, context: InputContext): void {
    this.lists.queue.push(checkIdea(idea, this.lists.queue.length, context));
  }
  checkIdea(idea: unknown, context: InputContext): string {
    return checkIdea(idea, this.lists.queue.length, context);
  }

  /** The operator's idea the next proposal tries, if any are queued; it leaves the queue now. */
  takeIdea(): string | undefined {
    return this.lists.queue.shift();
  }
  /** An idea whose experiment never tried it (cancelled, or the run ended) goes back first in line. */
  returnIdea(idea: string | undefined): void {
    if (idea !== undefined) this.lists.queue.unshift(idea);
  }
}

/** The redirect validator: a note of sensible length, while the run can still use it. */
export function checkNote(note: unknown, context: InputContext): string {
  checkOpen('redirect', context);
  return operatorText(note, {
    command: 'redirect',
    label: 'redirect note',
    noun: 'the note',
    what: 'the instruction text',
    example: '"try a smaller model"',
  });
}

/** The queue validator: an idea the proposer can read, with room in the queue. */
function checkIdea(idea: unknown, queued: number, context: InputContext): string {
  checkOpen('queue', context);
  const trimmed = operatorText(idea, {
    command: 'queue',
    label: 'the idea',
    noun: 'the idea',
    what: 'what to try next',
    example: '"use RMSNorm"',
  });
  if (context.proposer === 'mutate' && !CONSTANT_IDEA.test(trimmed))
    throw refusal(
      `the mutate proposer cannot read prose: queue one constant to set, e.g. queue "LEARNING_RATE=0.01" (got "${trimmed}")`,
    );
  if (queued >= MAX_QUEUE)
    throw refusal(
      `${MAX_QUEUE} ideas are queued already; wait for some to run, or write a plan in program.md`,
    );
  return trimmed;
}

/** The limits validator: known fields, a max not below what started, a deadline still ahead. */
export function checkLimits(change: unknown, now: number, context: InputContext): LimitsChange {
  checkOpen('limits', context);
  if (typeof change !== 'object' || change === null || Array.isArray(change))
    throw refusal('limits takes an object, e.g. {"maxExperiments": 50, "deadline": "2026-11-28T07:00:00Z"}');
  const { maxExperiments, deadline, ...rest } = change as Record<string, unknown>;
  const unknownKeys = Object.keys(rest);
  if (unknownKeys.length)
    throw refusal(`limits knows maxExperiments and deadline, not ${unknownKeys.join(', ')}`);
  if (maxExperiments === undefined && deadline === undefined)
    throw refusal('limits changes nothing: pass maxExperiments and/or deadline, e.g. {"maxExperiments": 50}');
  if (maxExperiments !== undefined && maxExperiments !== null) {
    if (typeof maxExperiments !== 'number' || !Number.isInteger(maxExperiments) || maxExperiments < 0)
      throw refusal(
        `maxExperiments must be a whole number >= 0 (or null for no limit); got ${String(maxExperiments)}`,
      );
    const started = Math.max(context.claimed - 1, 0); // claimed numbers after the baseline
    if (maxExperiments < started)
      throw refusal(
        `maxExperiments ${maxExperiments} is below the ${started} experiments already started; use stop to end the run now`,
      );
  }
  if (deadline !== undefined && deadline !== null) {
    if (typeof deadline !== 'string' || Number.isNaN(Date.parse(deadline)))
      throw refusal(
        `deadline must be an ISO date-time such as 2026-11-28T07:00:00Z; got ${String(deadline)}`,
      );
    if (Date.parse(deadline) <= now)
      throw refusal(`deadline ${deadline} has passed already; use stop to end the run now`);
  }
  return {
    ...(maxExperiments !== undefined ? { maxExperiments: maxExperiments as number | null } : {}),
    ...(deadline !== undefined ? { deadline: deadline as string | null } : {}),
  };
}

/** The run's options with the limits changed (null removes a limit). */
export function withLimits(options: RunOptions, change: LimitsChange): RunOptions {
  const next = { ...options };
  if (change.maxExperiments !== undefined) {
    if (change.maxExperiments === null) delete next.maxExperiments;
    else next.maxExperiments = change.maxExperiments;
  }
  if (change.deadline !== undefined) {
    if (change.deadline === null) delete next.deadline;
    else next.deadline = new Date(Date.parse(change.deadline)).toISOString();
  }
  return next;
}

function checkOpen(what: string, context: InputContext): void {
  // Not "no numbers left": raising the limit while the last experiment runs is exactly when a person wants to.
  if (context.ending)
    throw refusal(`the run is ending, so ${what} would have no effect; start a new run instead`);
}

/** Text from the operator (a note, an idea), trimmed; each refusal names the command and an example. */
function operatorText(
  value: unknown,
  m: { command: string; label: string; noun: string; what: string; example: string },
): string {
  if (typeof value !== 'string') throw refusal(`${m.command} takes one string: ${m.noun}, e.g. ${m.example}`);
  const trimmed = value.trim();
  if (!trimmed) throw refusal(`${m.label} is empty: pass ${m.what}, e.g. ${m.command} ${m.example}`);
  if (trimmed.length > MAX_NOTE_LENGTH)
    throw refusal(`${m.label} is ${trimmed.length} characters; keep it under ${MAX_NOTE_LENGTH}`);
  return trimmed;
}

/** An update refused: the caller sees the message; nothing is recorded. */
function refusal(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, 'InvalidOperatorInput');
}
