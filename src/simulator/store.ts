// In-memory state: workspaces (one per API key), apps, CVMs (including ones being deleted) and the provision cache.
import { apiKeyId, hashid } from './ids';
import type { AppRecord, Cvm, ProvisionRecord, UpdateChange, Workspace } from './model';

export class Store {
  private readonly byKey = new Map<string, Workspace>();
  readonly workspaces = new Map<string, Workspace>();
  readonly cvms = new Map<number, Cvm>();
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

  cvmsOfApp(workspaceId: string, appId: string): Cvm[] {
    return [...this.cvmsOf(workspaceId)].filter((c) => c.appId === appId).sort((a, b) => a.id - b.id);
  }

  nextId(): number {
    return this.nextCvmId++;
  }

  putProvision(rec: ProvisionRecord): void {
    this.provisions.set(`${rec.workspaceId}/${rec.composeHash}`, rec);
  }

  /** The cached provision for a hash in this workspace, or undefined once its TTL has passed. */
  getProvision(workspaceId: string, composeHash: string): ProvisionRecord | undefined {
    const key = `${workspaceId}/${composeHash}`;
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
    this.apps.clear();
    this.pendingUpdates.clear();
    this.provisions = new Map();
  }
}
