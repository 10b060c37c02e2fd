// Prepared updates for multisig owners (reference §7.3): a `PATCH /cvms/{id}` with `X-Prepare-Only: true` on an
// on-chain-KMS CVM answers 465 with a one-time `commit_token` (and the URLs to commit with) instead of applying; once
// the owners have approved the compose hash on chain, `POST /cvms/{id}/commit-update` `{token, compose_hash,
// transaction_hash}` applies the prepared change → `{correlation_id, status}` (SDK commitCvmUpdate). A token is
// bound to its CVM and hash, expires with the provision TTL and is spent by a successful commit.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { SimCore } from '../core';
import { busy, structuredError } from '../http/errors';
import { validateBody } from '../http/io';
import type { Cvm, UpdateChange } from '../model';
import { type ApiRequest, type ApiRouter, ok, type Reply } from './types';
import { applyUpdate, requireHashAllowed, updatable } from './update-common';

interface Prepared {
  cvmId: number;
  composeHash: string;
  change: UpdateChange;
  expiresAt: number;
}

const tokens = new WeakMap<SimCore, Map<string, Prepared>>();

function tokensOf(core: SimCore): Map<string, Prepared> {
  let m = tokens.get(core);
  if (!m) {
    m = new Map();
    tokens.set(core, m);
  }
  return m;
}

/** Issues a token for the change and returns the 465 `details` entries that carry it. */
export function commitTokenDetails(core: SimCore, cvm: Cvm, composeHash: string, change: UpdateChange) {
  const token = randomBytes(24).toString('base64url');
  tokensOf(core).set(token, { cvmId: cvm.id, composeHash, change, expiresAt: Date.now() + core.store.provisionTtl() });
  const apiCommitUrl = `/api/v1/cvms/${cvm.vmUuid}/commit-update`;
  return [
    { field: 'commit_token', value: token, message: null },
    {
      field: 'commit_url',
      value: `https://cloud.sim.phala.invalid/dashboard/cvms/${cvm.vmUuid}/commit?token=${token}`,
      message: null,
    },
    { field: 'api_commit_url', value: apiCommitUrl, message: null },
  ];
}

const CommitBody = z.object({
  token: z.string().min(1),
  compose_hash: z.string().min(1),
  transaction_hash: z.string().min(1),
});

async function commitUpdate(r: ApiRequest): Promise<Reply> {
  const body = validateBody(CommitBody, await r.json());
  const cvm = updatable(r);
  const map = tokensOf(r.core);
  const prepared = map.get(body.token);
  const bad = (message: string) =>
    structuredError(400, 'ERR-01-006', message, {
      details: [{ field: 'token', value: null, message: null }],
      suggestions: ['Prepare the update again with PATCH /cvms/{id} and X-Prepare-Only: true'],
    });
  if (!prepared || prepared.cvmId !== cvm.id) throw bad('Invalid commit token for this CVM');
  if (prepared.expiresAt <= Date.now()) {
    map.delete(body.token);
    throw bad('Commit token expired');
  }
  const hash = body.compose_hash.toLowerCase().replace(/^0x/, '');
  if (hash !== prepared.composeHash) {
    throw structuredError(466, 'ERR-01-006', `Compose hash ${hash} is not the prepared update's`, {
      details: [{ field: 'compose_hash', value: hash, message: `prepared: ${prepared.composeHash}` }],
    });
  }
  if (r.core.lifecycle.isBusy(cvm)) throw busy();
  await requireHashAllowed(r.core, cvm, hash);
  map.delete(body.token);
  r.core.store.pendingUpdates.delete(`${cvm.id}/${hash}`);
  return ok({ correlation_id: applyUpdate(r.core, cvm, prepared.change), status: 'in_progress' });
}

export function registerPreparedUpdateRoutes(router: ApiRouter): void {
  router.add('POST', '/cvms/:id/commit-update', commitUpdate);
}
