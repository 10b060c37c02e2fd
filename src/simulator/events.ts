// Per-CVM change notifications: the state machine publishes, SSE streams subscribe. Listeners are keyed by CVM so
// one transition only wakes the streams watching that CVM (200 watchers over 1 000 CVMs stay cheap).
import type { Cvm } from './model';

export type CvmEventKind = 'change' | 'gone';
export type CvmListener = (cvm: Cvm, kind: CvmEventKind) => void;

export class CvmEvents {
  private readonly listeners = new Map<number, Set<CvmListener>>();

  subscribe(cvmId: number, fn: CvmListener): () => void {
    let set = this.listeners.get(cvmId);
    if (!set) {
      set = new Set();
      this.listeners.set(cvmId, set);
    }
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.listeners.delete(cvmId);
    };
  }

  emit(cvm: Cvm, kind: CvmEventKind): void {
    const set = this.listeners.get(cvm.id);
    if (!set) return;
    for (const fn of [...set]) fn(cvm, kind);
  }
}
