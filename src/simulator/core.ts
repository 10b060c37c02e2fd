// The simulator's services in one place: options, store, state machine, faults, events, request log, KMS signer.
// Routes, SSE and the admin API all work on a SimCore; it has no HTTP in it.
import type { KmsEntry, SimNode } from './catalog';
import { PHALA_KMS } from './catalog';
import { KmsSigner, onChainKmsEntry } from './chain';
import { CvmEvents } from './events';
import { FaultRegistry } from './faults';
import { notFound } from './http/errors';
import { Lifecycle } from './lifecycle';
import type { Cvm, KmsType, Workspace } from './model';
import type { ResolvedOptions } from './options';
import { RequestLog } from './request-log';
import { classifyIdentifier, resolveCvm } from './resolve';
import { forget } from './side-state';
import { StreamRegistry } from './sse-registry';
import { Store } from './store';

/** Deleted CVMs kept for the admin API's history view. */
const GRAVEYARD_LIMIT = 10_000;

export class SimCore {
  readonly store: Store;
  readonly faults = new FaultRegistry();
  readonly events = new CvmEvents();
  readonly lifecycle: Lifecycle;
  readonly log: RequestLog;
  readonly signer = new KmsSigner();
  readonly deleted: Cvm[] = [];
  readonly streams: StreamRegistry;
  private readonly nodes: Map<number, SimNode>;

  constructor(readonly opts: ResolvedOptions) {
    this.store = new Store(opts.apiKeys, opts.provisionTtlMs);
    this.log = new RequestLog(opts.requestLogLimit);
    this.streams = new StreamRegistry(opts.sseStreamsPerKey);
    this.nodes = new Map(opts.nodes.map((n) => [n.id, n]));
    this.faults.add(opts.faults);
    this.lifecycle = new Lifecycle({
      delays: opts.delays,
      timeScale: opts.timeScale,
      faults: this.faults,
      onChange: (cvm) => this.events.emit(cvm, 'change'),
      onGone: (cvm) => this.purge(cvm),
    });
  }

  get timeScale(): number {
    return this.opts.timeScale;
  }

  node(id: number): SimNode | undefined {
    return this.nodes.get(id);
  }

  nodeOf(cvm: Cvm): SimNode {
    return this.nodes.get(cvm.nodeId)!;
  }

  allNodes(): SimNode[] {
    return [...this.nodes.values()];
  }

  liveCvmsOnNode(nodeId: number): Cvm[] {
    return [...this.store.cvms.values()].filter((c) => c.nodeId === nodeId);
  }

  kmsList(): KmsEntry[] {
    const v = this.opts.onChainVerifier;
    return v ? [PHALA_KMS, onChainKmsEntry(v)] : [PHALA_KMS];
  }

  kmsByIdOrSlug(idOrSlug: string): KmsEntry | undefined {
    const key = idOrSlug.toLowerCase();
    return this.kmsList().find(
      (k) => k.id.toLowerCase() === key || k.slug.toLowerCase() === key || (key === 'phala' && k === PHALA_KMS),
    );
  }

  /** The KMS that serves a type: Phala's own, or the on-chain one backed by the configured verifier. */
  kmsForType(type: KmsType): KmsEntry | undefined {
    if (type === 'phala') return PHALA_KMS;
    const v = this.opts.onChainVerifier;
    return v ? onChainKmsEntry(v) : undefined;
  }

  kmsOf(cvm: Cvm): KmsEntry {
    return this.kmsList().find((k) => k.id === cvm.kmsId) ?? PHALA_KMS;
  }

  /** The CVM a path segment names in this workspace (CVMs of other workspaces are invisible: 404). */
  resolve(ws: Workspace, ident: string): Cvm {
    const id = classifyIdentifier(ident);
    const cvm =
      id.kind === 'uuid' ? this.store.cvmByUuid(ws.id, id.value) : resolveCvm(this.store.cvmsOf(ws.id), ident);
    if (!cvm) throw notFound();
    return cvm;
  }

  insert(cvm: Cvm): Cvm {
    this.store.add(cvm);
    this.lifecycle.begin(cvm, 'create');
    return cvm;
  }

  envPublicKey(cvm: Cvm): string | null {
    return this.store.apps.get(cvm.appId)?.envPublicKey ?? null;
  }

  private purge(cvm: Cvm): void {
    this.store.remove(cvm);
    this.deleted.push(cvm);
    if (this.deleted.length > GRAVEYARD_LIMIT) this.deleted.shift();
    this.events.emit(cvm, 'gone');
  }

  /** Back to an empty fleet; faults return to the start-up profile; the request log is cleared. */
  reset(): void {
    this.streams.closeAll();
    this.lifecycle.close();
    this.store.reset();
    forget(this);
    this.deleted.length = 0;
    this.faults.clear();
    this.faults.add(this.opts.faults);
    this.log.clear();
  }

  close(): void {
    this.streams.closeAll();
    this.lifecycle.close();
  }
}
