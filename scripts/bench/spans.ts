// Figures of a run computed from its trainings as the trainer saw them (the ledger), not from records.
import { experimentOf, type Step } from './history';
import type { Span } from './simulated';

/**
 * The trainings after the baseline's: it runs alone, first (nothing can be decided before it is scored),
 * and so do its noise runs, on as many slots as they are (two of 64), so the measured window starts at
 * the first experiment's training. Which experiment a training was is the train step open around it.
 */
export function afterBaseline(run: { spans: Span[]; run: { steps: Step[] } }): Span[] {
  return run.spans.filter((span) => experimentOf(span, run.run.steps) !== 0);
}

/** Seconds from the first training's start to the last one's end. */
export function windowSeconds(spans: Span[]): number {
  if (spans.length === 0) return 0;
  return Math.max(...spans.map((s) => s.end)) - Math.min(...spans.map((s) => s.start));
}

export function trainingSeconds(spans: Span[]): number {
  return spans.reduce((sum, s) => sum + (s.end - s.start), 0);
}

/** Share of the slots' time spent training, over the window. */
export function dutyCycle(spans: Span[], slots: number): number {
  const window = windowSeconds(spans);
  return window > 0 ? trainingSeconds(spans) / (slots * window) : 0;
}

/** Trainings per hour over the window. */
export function perHour(spans: Span[]): number {
  const window = windowSeconds(spans);
  return window > 0 ? (spans.length / window) * 3600 : 0;
}

/** The idle time between one training and the next in the same slot, in seconds. */
export function slotGaps(spans: Span[]): number[] {
  const bySlot = new Map<string, Span[]>();
  for (const s of spans) bySlot.set(s.where, [...(bySlot.get(s.where) ?? []), s]);
  const gaps: number[] = [];
  for (const list of bySlot.values())
    for (let i = 1; i < list.length; i++) gaps.push(list[i]!.start - list[i - 1]!.end);
  return gaps;
}

export function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}
