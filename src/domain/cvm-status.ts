// What a CVM's status string means, written once (reference §5: lowercase snake_case from the API). One status can
// answer two questions differently, and that is deliberate: `exited` is powered off (power schedules leave it
// stopped, and `start` works on it) and it is also a failure when a CVM was being watched toward `running` (its
// boot or its process died).

/** Powered off: stopped by someone, or exited (crashed). */
export const OFF_STATUSES: ReadonlySet<string> = new Set(['stopped', 'exited', 'shutdown', 'shutoff']);
/** Stopped on purpose (not a crash). */
export const STOPPED_STATUSES: ReadonlySet<string> = new Set(['stopped', 'shutdown', 'shutoff']);
/** A CVM meant to run that did not: a failed boot or a crashed process. */
export const FAILED_STATUSES: ReadonlySet<string> = new Set(['exited', 'failed', 'error']);
/** On the way to running. */
export const TOWARD_RUNNING_STATUSES: ReadonlySet<string> = new Set([
  'starting',
  'restarting',
  'creating',
  'provisioning',
  'booting',
]);
/** On the way to off. */
export const TOWARD_STOPPED_STATUSES: ReadonlySet<string> = new Set(['stopping', 'shutting_down']);
/** Being deleted, or deleted. */
export const GONE_STATUSES: ReadonlySet<string> = new Set(['deleting', 'deleted']);
