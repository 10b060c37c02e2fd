// What a CVM's status means for power: a stable state, a move toward one, or something else going on. Read by the
// power schedule's decisions (workflow) and by the power activities that report statuses. Reference §5.1: a crashed
// (`exited`) CVM is off, and start works on it.
import { GONE_STATUSES, OFF_STATUSES, TOWARD_RUNNING_STATUSES, TOWARD_STOPPED_STATUSES } from './cvm-status';

/** What a CVM's status means for power: a stable state, a move toward one, or something else going on. */
export type PowerPhase = 'running' | 'stopped' | 'starting' | 'stopping' | 'busy' | 'failed' | 'missing';

export function phaseOf(status: string, inProgress: boolean): PowerPhase {
  const s = status.toLowerCase();
  if (GONE_STATUSES.has(s)) return 'missing';
  if (TOWARD_RUNNING_STATUSES.has(s)) return 'starting';
  if (TOWARD_STOPPED_STATUSES.has(s)) return 'stopping';
  // A stable status with an operation in flight (an update restarting the CVM) is going somewhere we cannot name.
  if (s === 'running') return inProgress ? 'busy' : 'running';
  if (OFF_STATUSES.has(s)) return inProgress ? 'busy' : 'stopped';
  return s.endsWith('ing') || inProgress ? 'busy' : 'failed';
}
