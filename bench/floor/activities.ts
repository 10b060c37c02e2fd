// The floor workflow's activities: each one bare call to the simulator with the official @phala/cloud SDK; the watch
// is one SSE stream per CVM (the floor runs every deploy under its own API key, so the per-key stream cap never
// makes it wait), so a CVM reaching `running` is seen at once.

import {
  type Client,
  commitCvmProvision,
  createClient,
  getAppList,
  provisionCvm,
  replicateCvm,
  watchCvmState,
} from '@phala/cloud';
import { Context } from '@temporalio/activity';

export const FLOOR_COMPOSE = 'services:\n  web:\n    image: nginx:1.27-alpine\n    ports:\n      - "80:80"\n';

export function createFloorActivities(baseURL: string) {
  const clients = new Map<string, Client>();
  const client = (apiKey: string) => {
    const known = clients.get(apiKey);
    if (known) return known;
    const made = createClient({ baseURL, apiKey });
    clients.set(apiKey, made);
    return made;
  };
  return {
    async inspect({ apiKey, name }: { apiKey: string; name: string }): Promise<number> {
      const res = await getAppList(client(apiKey), { search: name, page_size: 100 });
      return (res as { dstack_apps?: unknown[] }).dstack_apps?.length ?? 0;
    },
    async provision({ apiKey, name }: { apiKey: string; name: string }) {
      const p = await provisionCvm(client(apiKey), { name, compose_file: { docker_compose_file: FLOOR_COMPOSE } });
      return { appId: p.app_id!, composeHash: p.compose_hash };
    },
    async commit({ apiKey, appId, composeHash }: { apiKey: string; appId: string; composeHash: string }) {
      const cvm = await commitCvmProvision(client(apiKey), { app_id: appId, compose_hash: composeHash });
      return cvm.vm_uuid!;
    },
    async replicate({ apiKey, cvmId }: { apiKey: string; cvmId: string }) {
      return (await replicateCvm(client(apiKey), { id: cvmId })).vm_uuid!;
    },
    async watch({ apiKey, cvmId }: { apiKey: string; cvmId: string }): Promise<void> {
      await watchCvmState(
        client(apiKey),
        { id: cvmId, target: 'running', maxRetries: 10, retryDelay: 200 },
        { signal: Context.current().cancellationSignal },
      );
    },
  };
}
