// Reshapes a recorded history as a worker could have written it: the workflow task that ran a local activity ends
// right after the activity's marker, and the code after it is recorded by the next task. (A query answered while the
// local activity ran does this.) Replay then resumes that code inside the first task, so a patch judged there sees
// no marker: the shape test/workflow/deploy-control.test.ts replays.

type Json = Record<string, unknown>;

const WFT_SCHEDULED = 'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED';
const WFT_STARTED = 'EVENT_TYPE_WORKFLOW_TASK_STARTED';
const WFT_COMPLETED = 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED';

/** `json`: a history in its JSON form (historyToJSON). Returns it with a task boundary after the first local activity. */
export function splitAfterFirstLocalActivity(json: { events: Json[] }): { events: Json[] } {
  const events = json.events;
  const at = events.findIndex(
    (e) => (e.markerRecordedEventAttributes as Json | undefined)?.markerName === 'core_local_activity',
  );
  if (at < 0) throw new Error('the history has no local activity marker');
  // The next task's commands follow the marker until the next task is scheduled; they must not be empty.
  if (events[at + 1]?.eventType === WFT_SCHEDULED) throw new Error('nothing follows the local activity in its task');
  const id = (n: number) => String(n);
  const markerId = Number(events[at]!.eventId);
  const shift = (n: number) => (n > markerId ? n + 3 : n);
  const renumber = (value: unknown, key?: string): unknown => {
    if (Array.isArray(value)) return value.map((v) => renumber(v));
    if (value && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renumber(v, k)]));
    if (key && /EventId$|^eventId$/.test(key) && typeof value === 'string' && /^\d+$/.test(value))
      return id(shift(Number(value)));
    return value;
  };
  const before = events.slice(0, at + 1);
  const after = events.slice(at + 1).map((e) => renumber(e) as Json);
  const time = events[at]!.eventTime;
  const [scheduled, started, completed] = [markerId + 1, markerId + 2, markerId + 3];
  const task: Json[] = [
    {
      eventId: id(scheduled),
      eventTime: time,
      eventType: WFT_SCHEDULED,
      workflowTaskScheduledEventAttributes: {
        taskQueue: findTaskQueue(events),
        startToCloseTimeout: '10s',
        attempt: 1,
      },
    },
    {
      eventId: id(started),
      eventTime: time,
      eventType: WFT_STARTED,
      workflowTaskStartedEventAttributes: { scheduledEventId: id(scheduled), identity: 'split', requestId: 'split' },
    },
    {
      eventId: id(completed),
      eventTime: time,
      eventType: WFT_COMPLETED,
      workflowTaskCompletedEventAttributes: {
        scheduledEventId: id(scheduled),
        startedEventId: id(started),
        identity: 'split',
      },
    },
  ];
  // The commands after the marker now belong to the new task.
  for (const e of after) {
    if (e.eventType === WFT_SCHEDULED) break;
    for (const attrs of Object.values(e))
      if (attrs && typeof attrs === 'object' && 'workflowTaskCompletedEventId' in (attrs as Json))
        (attrs as Json).workflowTaskCompletedEventId = id(completed);
  }
  return { ...json, events: [...before, ...task, ...after] };
}

function findTaskQueue(events: Json[]): unknown {
  const scheduled = events.find((e) => e.eventType === WFT_SCHEDULED);
  return (scheduled?.workflowTaskScheduledEventAttributes as Json | undefined)?.taskQueue;
}
