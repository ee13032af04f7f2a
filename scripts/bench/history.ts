// What a run's workflow history says: how many events it took, and when each step was scheduled,
// started and closed (to see where a slot's time goes between two trainings).
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import type { Span } from './simulated';

type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;
const EventType = proto.temporal.api.enums.v1.EventType;

/** The events of every execution in the run's continue-as-new chain, one array per execution, in order. */
export async function fetchChain(
  client: Client,
  workflowId: string,
  firstRunId: string,
): Promise<HistoryEvent[][]> {
  const executions: HistoryEvent[][] = [];
  let runId: string | undefined = firstRunId;
  while (runId) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events: HistoryEvent[] = history.events ?? [];
    executions.push(events);
    const last: HistoryEvent | undefined = events[events.length - 1];
    runId =
      last?.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        ? (last.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined)
        : undefined;
  }
  return executions;
}

/** One activity of the run: its type, its experiment, and when it was scheduled, started and closed (Unix seconds). */
export interface Step {
  type: string;
  /** From the step's summary ("exp 7 train: ..."); undefined for steps of the run (prepare). */
  n?: number;
  scheduled: number;
  started: number;
  closed: number;
}

export function steps(chain: HistoryEvent[][]): Step[] {
  const all: Step[] = [];
  for (const events of chain) {
    const open = new Map<string, Omit<Step, 'started' | 'closed'> & { started?: number }>();
    for (const e of events) {
      const at = seconds(e.eventTime);
      const a = e.activityTaskScheduledEventAttributes;
      if (a) {
        const n = /^exp (\d+) /.exec(summaryOf(e))?.[1];
        open.set(String(e.eventId), {
          type: a.activityType?.name ?? '?',
          ...(n !== undefined ? { n: Number(n) } : {}),
          scheduled: at,
        });
      }
      const started = e.activityTaskStartedEventAttributes;
      if (started) open.get(String(started.scheduledEventId))!.started = at;
      const closedId =
        e.activityTaskCompletedEventAttributes?.scheduledEventId ??
        e.activityTaskFailedEventAttributes?.scheduledEventId ??
        e.activityTaskTimedOutEventAttributes?.scheduledEventId ??
        e.activityTaskCanceledEventAttributes?.scheduledEventId;
      if (closedId != null) {
        const step = open.get(String(closedId))!;
        all.push({ ...step, started: step.started ?? at, closed: at });
      }
    }
  }
  return all;
}

/** The summary the workflow gave a step (shown in the Web UI), e.g. "exp 7 evaluate". */
function summaryOf(e: HistoryEvent): string {
  const data = e.userMetadata?.summary?.data;
  if (!data) return '';
  try {
    return String(JSON.parse(Buffer.from(data).toString('utf8')));
  } catch {
    return '';
  }
}

/** How many times each activity ran (proposals, rebases ...). */
export function stepCounts(list: Step[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const s of list) counts[s.type] = (counts[s.type] ?? 0) + 1;
  return counts;
}

/** What holds a slot between two trainings, most direct first: a moment counts for the first that is open. */
const ORDER = [
  'trainCandidate',
  'evaluateCandidate',
  'rebaseCandidate',
  'proposeCandidate',
  'recordExperiment',
];
const LABELS: Record<string, string> = {
  evaluateCandidate: 'evaluate',
  rebaseCandidate: 'rebase',
  proposeCandidate: 'propose',
  recordExperiment: 'record',
};
const BEFORE = 'train step, before the script (slot checkout, supervisor and process start-up)';
const AFTER = 'train step, after the script (result, frozen-file check, slot clean-up, report)';

/** The experiment each training ran: the one whose train step was open around it. */
export function experimentOf(span: Span, list: Step[]): number | undefined {
  return list.find((s) => s.type === 'trainCandidate' && s.started <= span.start && span.end <= s.closed)?.n;
}

/**
 * Where a slot's time goes between one training and its next one (in the same slot): each millisecond
 * of every gap is given to the step of those two experiments open then (the first in ORDER; waiting in
 * the task queue, between scheduled and started, apart), or to the workflow itself when none is.
 * Mean seconds per gap, largest first.
 */
export function gapBreakdown(trainings: Span[], list: Step[]): { gaps: number; parts: [string, number][] } {
  const intervals = list
    .filter((s) => ORDER.includes(s.type))
    .flatMap((s) => {
      const rank = ORDER.indexOf(s.type) * 2;
      return [
        { step: s, waiting: true, rank, from: s.scheduled, to: s.started },
        { step: s, waiting: false, rank: rank + 1, from: s.started, to: s.closed },
      ];
    })
    .sort((a, b) => a.rank - b.rank);
  const bySlot = new Map<string, Span[]>();
  for (const s of trainings) bySlot.set(s.where, [...(bySlot.get(s.where) ?? []), s]);
  const totals = new Map<string, number>();
  let gaps = 0;
  const STEP = 0.001;
  for (const spans of bySlot.values())
    for (let i = 1; i < spans.length; i++) {
      const from = spans[i - 1]!.end;
      const to = spans[i]!.start;
      if (to <= from) continue;
      gaps++;
      const ns = [experimentOf(spans[i - 1]!, list), experimentOf(spans[i]!, list)];
      const own = intervals.filter((iv) => iv.from < to && iv.to > from && ns.includes(iv.step.n));
      for (let t = from; t < to; t += STEP) {
        const open = own.find((iv) => iv.from <= t && t < iv.to);
        let label = 'workflow tasks (deciding, scheduling the next step)';
        if (open) {
          // The training that just ended is still reporting; the next one's step has not reached its script.
          const step =
            open.step.type === 'trainCandidate'
              ? open.step.n === ns[0]
                ? AFTER
                : BEFORE
              : LABELS[open.step.type]!;
          label = open.waiting ? `${step}: waiting for a worker` : step;
        }
        totals.set(label, (totals.get(label) ?? 0) + STEP);
      }
    }
  const parts = [...totals.entries()]
    .map(([label, total]): [string, number] => [label, total / Math.max(1, gaps)])
    .filter(([, mean]) => mean >= 0.0005)
    .sort((a, b) => b[1] - a[1]);
  return { gaps, parts };
}

function seconds(ts: proto.google.protobuf.ITimestamp | null | undefined): number {
  if (!ts) return NaN;
  return Number(ts.seconds?.toString() ?? 0) + (ts.nanos ?? 0) / 1e9;
}
