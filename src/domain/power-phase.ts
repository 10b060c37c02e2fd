// What a CVM's status means for power: a stable state, a move toward one, or something else going on. Read by the
// power schedule's decisions (workflow) and by the power activities that report statuses.

/** What a CVM's status means for power: a stable state, a move toward one, or something else going on. */
export type PowerPhase = 'running' | 'stopped' | 'starting' | 'stopping' | 'busy' | 'failed' | 'missing';

// Reference §5.1: `exited`, `shutdown` and `shutoff` are powered off (a crashed CVM is off, and start works on it).
const OFF = new Set(['stopped', 'exited', 'shutdown', 'shutoff']);
const TOWARD_RUNNING = new Set(['starting', 'restarting', 'creating', 'provisioning', 'booting']);
const TOWARD_STOPPED = new Set(['stopping', 'shutting_down']);
const GONE = new Set(['deleting', 'deleted']);

export function phaseOf(status: string, inProgress: boolean): PowerPhase {
  const s = status.toLowerCase();
  if (GONE.has(s)) return 'missing';
  if (TOWARD_RUNNING.has(s)) return 'starting';
  if (TOWARD_STOPPED.has(s)) return 'stopping';
  // A stable status with an operation in flight (an update restarting the CVM) is going somewhere we cannot name.
  if (s === 'running') return inProgress ? 'busy' : 'running';
  if (OFF.has(s)) return inProgress ? 'busy' : 'stopped';
  return s.endsWith('ing') || inProgress ? 'busy' : 'failed';
}
