// In-memory state: workspaces (one per API key), apps, CVMs (including ones being deleted) and the provision cache.
import { apiKeyId, hashid } from './ids';
import type { AppRecord, Cvm, ProvisionRecord, UpdateChange, Workspace } from './model';

export class Store {
  private readonly byKey = new Map<string, Workspace>();
  readonly workspaces = new Map<string, Workspace>();
  readonly cvms = new Map<number, Cvm>();
  /** CVMs by dashless lower-case vm_uuid: resolving one of 10 000 CVMs per request must not scan them all. */
  private readonly uuidIndex = new Map<string, Cvm>();
  /**
   * CVMs by app id (a CVM never changes app): listing apps pairs every app with its CVMs, which by a scan of the
   * fleet per app cost apps × CVMs per request — seconds at a thousand deploys.
   */
  private readonly appIndex = new Map<string, Set<Cvm>>();
  readonly apps = new Map<string, AppRecord>();
  private provisions = new Map<string, ProvisionRecord>();
  /** Updates of on-chain CVMs waiting for their compose hash to be approved, keyed `<cvm id>/<hash>`. */
  readonly pendingUpdates = new Map<string, UpdateChange>();
  private nextCvmId = 1001;

  constructor(
    apiKeys: string[],
    private readonly provisionTtlMs: number,
  ) {
    apiKeys.forEach((key, i) => {
      const n = i + 1;
      const ws: Workspace = {
        keyId: apiKeyId(key),
        id: hashid('ws', 10),
        userId: 100 + n,
        username: `sim-user-${n}`,
        email: `sim-user-${n}@sim.phala.invalid`,
        name: `Sim Workspace ${n}`,
        slug: `sim-ws-${n}`,
      };
      this.byKey.set(key, ws);
      this.workspaces.set(ws.id, ws);
    });
  }

  workspaceForKey(key: string): Workspace | undefined {
    return this.byKey.get(key);
  }

  workspace(id: string): Workspace {
    const ws = this.workspaces.get(id);
    if (!ws) throw new Error(`unknown workspace ${id}`);
    return ws;
  }

  *cvmsOf(workspaceId: string): Iterable<Cvm> {
    for (const c of this.cvms.values()) if (c.workspaceId === workspaceId) yield c;
  }

  add(cvm: Cvm): void {
    this.cvms.set(cvm.id, cvm);
    this.uuidIndex.set(bareUuid(cvm.vmUuid), cvm);
    const members = this.appIndex.get(cvm.appId) ?? new Set<Cvm>();
    this.appIndex.set(cvm.appId, members.add(cvm));
  }

  remove(cvm: Cvm): void {
    this.cvms.delete(cvm.id);
    this.uuidIndex.delete(bareUuid(cvm.vmUuid));
    const members = this.appIndex.get(cvm.appId);
    members?.delete(cvm);
    if (members?.size === 0) this.appIndex.delete(cvm.appId);
  }

  /** The live CVM of this workspace with this vm_uuid (dashed or not, any case). */
  cvmByUuid(workspaceId: string, vmUuid: string): Cvm | undefined {
    const cvm = this.uuidIndex.get(bareUuid(vmUuid));
    return cvm?.workspaceId === workspaceId ? cvm : undefined;
  }

  cvmsOfApp(workspaceId: string, appId: string): Cvm[] {
    const members = [...(this.appIndex.get(appId) ?? [])];
    return members.filter((c) => c.workspaceId === workspaceId).sort((a, b) => a.id - b.id);
  }

  nextId(): number {
    return this.nextCvmId++;
  }

  /**
   * `appId` scopes an update's provision to its app: apps whose compose is identical share a hash, and one app's
   * update must not replace another's pending one (a fleet rollout prepares them all with the same compose).
   */
  putProvision(rec: ProvisionRecord, appId?: string): void {
    this.provisions.set(`${rec.workspaceId}/${rec.composeHash}${appId ? `/${appId}` : ''}`, rec);
  }

  /** The cached provision for a hash in this workspace (and app), or undefined once its TTL has passed. */
  getProvision(workspaceId: string, composeHash: string, appId?: string): ProvisionRecord | undefined {
    const key = `${workspaceId}/${composeHash}${appId ? `/${appId}` : ''}`;
    const rec = this.provisions.get(key);
    if (rec && rec.expiresAt <= Date.now()) {
      this.provisions.delete(key);
      return undefined;
    }
    return rec;
  }

  provisionTtl(): number {
    return this.provisionTtlMs;
  }

  reset(): void {
    this.cvms.clear();
    this.uuidIndex.clear();
    this.appIndex.clear();
    this.apps.clear();
    this.pendingUpdates.clear();
    this.provisions = new Map();
  }
}

const bareUuid = (vmUuid: string) => vmUuid.replaceAll('-', '').toLowerCase();
