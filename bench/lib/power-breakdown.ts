// Where a power transition's lateness goes (power_scale --breakdown): for each instant a schedule acts on, the
// workflow's history says when its timer fired, when the status read and the lock check came back and when the
// first batch activity started; the simulator's request log says when the first and the last call of the instant
// landed. Each phase is reported as its delay after the due instant (real ms), over every (schedule, instant).
import type { Client } from '@temporalio/client';
import { percentile, round, timestampMs } from './stats';

export interface InstantCalls {
  workflowId: string;
  dueMs: number;
  /** Request-log times of the power calls of this instant. */
  calls: number[];
}

interface Ev {
  at: number;
  kind: 'timer' | 'wftStarted' | 'scheduled' | 'started' | 'completed';
  type?: string;
}

/**
 * A run's events, 100 at a time: a page of the server's default size can exceed gRPC's 4 MiB message limit (a run
 * of a schedule over thousands of CVMs carries their listings).
 */
async function* historyOf(client: Client, workflowId: string, runId: string) {
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await client.workflowService.getWorkflowExecutionHistory({
      namespace: client.options.namespace,
      execution: { workflowId, runId },
      maximumPageSize: 100,
      nextPageToken,
    });
    yield* page.history?.events ?? [];
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
}

async function eventsOf(client: Client, workflowId: string): Promise<Ev[]> {
  const out: Ev[] = [];
  for await (const run of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    const typeOf = new Map<number, string>();
    for await (const e of historyOf(client, workflowId, run.runId)) {
      const at = timestampMs(e.eventTime);
      const sched = e.activityTaskScheduledEventAttributes;
      if (sched) {
        typeOf.set(Number(e.eventId), sched.activityType?.name ?? '');
        out.push({ at, kind: 'scheduled', type: sched.activityType?.name ?? '' });
      } else if (e.activityTaskStartedEventAttributes) {
        const type = typeOf.get(Number(e.activityTaskStartedEventAttributes.scheduledEventId));
        out.push({ at, kind: 'started', type });
      } else if (e.activityTaskCompletedEventAttributes) {
        const type = typeOf.get(Number(e.activityTaskCompletedEventAttributes.scheduledEventId));
        out.push({ at, kind: 'completed', type });
      } else if (e.timerFiredEventAttributes) out.push({ at, kind: 'timer' });
      else if (e.workflowTaskStartedEventAttributes) out.push({ at, kind: 'wftStarted' });
    }
  }
  return out.sort((a, b) => a.at - b.at);
}

const READS = new Set(['powerReadStatuses', 'powerReadTargets']);

/** Per phase: p50 / p99 / max of its end after the due instant (real ms), over every (schedule, instant). */
export async function latenessBreakdown(
  client: Client,
  instants: InstantCalls[],
  leadMs: number,
): Promise<Record<string, string>> {
  const byWorkflow = new Map<string, Ev[]>();
  for (const id of new Set(instants.map((i) => i.workflowId))) byWorkflow.set(id, await eventsOf(client, id));
  const phases: Record<string, number[]> = {
    timer_fired: [],
    wft_started: [],
    read_done: [],
    locks_done: [],
    batch_scheduled: [],
    batch_started: [],
    first_call: [],
    last_call: [],
  };
  for (const i of instants) {
    if (i.calls.length === 0) continue;
    const ev = byWorkflow.get(i.workflowId) ?? [];
    const after = (from: number, pred: (e: Ev) => boolean) => ev.find((e) => e.at >= from && pred(e))?.at;
    // The wake comes `leadMs` before the instant ('power-early-wake'); it may be a timer or (before a run's first
    // timer) the run's start: take the first task after that, less 50 ms. Phases before the instant are negative.
    const wake = i.dueMs - leadMs - 50;
    const timer = after(wake, (e) => e.kind === 'timer');
    const wft = after(timer ?? wake, (e) => e.kind === 'wftStarted');
    const read = wft === undefined ? undefined : after(wft, (e) => e.kind === 'completed' && READS.has(e.type ?? ''));
    const locks =
      read === undefined ? undefined : after(read, (e) => e.kind === 'completed' && e.type === 'powerLockedApps');
    const sched = after(locks ?? read ?? i.dueMs, (e) => e.kind === 'scheduled' && e.type === 'powerCvms');
    const started =
      sched === undefined ? undefined : after(sched, (e) => e.kind === 'started' && e.type === 'powerCvms');
    const add = (k: string, at: number | undefined) => {
      if (at !== undefined) phases[k]!.push(at - i.dueMs);
    };
    add('timer_fired', timer);
    add('wft_started', wft);
    add('read_done', read);
    add('locks_done', locks);
    add('batch_scheduled', sched);
    add('batch_started', started);
    add('first_call', Math.min(...i.calls));
    add('last_call', Math.max(...i.calls));
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(phases)) {
    if (v.length === 0) continue;
    out[k] =
      `p50 ${round(percentile(v, 50), 0)} / p99 ${round(percentile(v, 99), 0)} / ` +
      `max ${round(percentile(v, 100), 0)} ms (n ${v.length})`;
  }
  return out;
}
