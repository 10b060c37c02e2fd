// The workspace around the CVMs: workspaces (cursor-paged list, detail, nodes, quotas), the user's SSH keys and the
// public OS image catalogue — the routes behind `phala nodes list`, `phala ssh-keys …` and the SDK's workspace
// actions (@phala/cloud 0.2.9 schemas). One workspace per API key, as everywhere in the simulator. Quotas are
// reported from the simulated fleet's capacity; the simulator does not enforce them.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { SimNode } from '../catalog';
import type { SimCore } from '../core';
import { detailError, notFound, structuredError, validationError } from '../http/errors';
import { validateBody } from '../http/io';
import { hashid } from '../ids';
import type { Workspace } from '../model';
import { nodeInfo } from '../shapes/common';
import { type SshKey, setSshKeys, sshKeysOf } from '../side-state';
import { pageParams, paginate } from './resources';
import { type ApiRequest, type ApiRouter, ok, type Reply } from './types';

const WORKSPACE_CREATED = new Date('2025-01-01T00:00:00Z').toISOString();

function workspaceShape(ws: Workspace) {
  return {
    id: ws.id,
    name: ws.name,
    slug: ws.slug,
    tier: 'PRO',
    role: 'owner',
    is_default: true,
    created_at: WORKSPACE_CREATED,
    confidential_models_enabled: false,
  };
}

/** The caller's workspace, named by slug or id; any other is invisible (404), as with CVMs. */
function ownWorkspace(r: ApiRequest): Workspace {
  const ref = r.params.slug!;
  if (ref !== r.ws.slug && ref !== r.ws.id) throw notFound('Workspace');
  return r.ws;
}

function listWorkspaces(r: ApiRequest): Reply {
  const limit = r.query.get('limit');
  if (limit !== null && !(Number.isInteger(Number(limit)) && Number(limit) >= 1 && Number(limit) <= 100)) {
    throw validationError([
      { type: 'less_than_equal', loc: ['query', 'limit'], msg: 'Input should be between 1 and 100', input: limit },
    ]);
  }
  // One workspace: a cursor never has anything after it.
  const data = r.query.get('cursor') ? [] : [workspaceShape(r.ws)];
  return ok({ data, pagination: { has_more: false, next_cursor: null, total: 1 } });
}

function getWorkspace(r: ApiRequest): Reply {
  return ok(workspaceShape(ownWorkspace(r)));
}

/** The dstack-vmm release a node runs: its newest OS image's version. */
function nodeVersion(node: SimNode): string {
  const newest = [...node.images].sort((a, b) => b.version.join('.').localeCompare(a.version.join('.')))[0];
  return newest ? newest.version.join('.') : '0.0.0';
}

function workspaceNodes(r: ApiRequest): Reply {
  ownWorkspace(r);
  const { page, pageSize } = pageParams(r, 30);
  const nodes = r.core
    .allNodes()
    .filter((n) => n.listed)
    .map((node) => nodeInfo(node, nodeVersion(node)));
  return ok(paginate(nodes, page, pageSize));
}

function quotas(r: ApiRequest): Reply {
  const ws = ownWorkspace(r);
  const core: SimCore = r.core;
  const mine = [...core.store.cvmsOf(ws.id)];
  const nodes = core.allNodes();
  const metric = (limit: number, used: number) => ({ limit, remaining: Math.max(0, limit - used) });
  const sum = (f: (n: SimNode) => number) => nodes.reduce((s, n) => s + f(n), 0);
  return ok({
    team_slug: ws.slug,
    tier: 'PRO',
    quotas: {
      vm_slots: metric(
        sum((n) => n.slots),
        mine.length,
      ),
      vcpu: metric(
        sum((n) => n.vcpu),
        mine.reduce((s, c) => s + c.vcpu, 0),
      ),
      memory_mb: metric(
        sum((n) => n.memoryMb),
        mine.reduce((s, c) => s + c.memoryMb, 0),
      ),
      disk_gb: metric(
        sum((n) => n.slots * 1024),
        mine.reduce((s, c) => s + c.diskGb, 0),
      ),
    },
    reserved_nodes: metric(0, 0),
    reserved_gpu: { gpus: metric(0, 0), in_use: 0, misconfigured: 0 },
    as_of: new Date().toISOString(),
  });
}

const KEY_TYPES = new Set([
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
]);

/** `<type> <base64 blob> [comment]`; the fingerprint is OpenSSH's: SHA256 of the blob, unpadded base64. */
function parsePublicKey(raw: string): { type: string; fingerprint: string; normalised: string } {
  const [type, blob, ...comment] = raw.trim().split(/\s+/);
  const bad = (msg: string) =>
    validationError([{ type: 'value_error', loc: ['body', 'public_key'], msg: `Value error, ${msg}`, input: raw }]);
  if (!type || !KEY_TYPES.has(type)) {
    throw bad(`public_key must be an OpenSSH public key (${[...KEY_TYPES].join(', ')})`);
  }
  const bytes = blob && /^[A-Za-z0-9+/]+={0,2}$/.test(blob) ? Buffer.from(blob, 'base64') : Buffer.alloc(0);
  // The blob starts with the key type again, length-prefixed: a cheap check that it is a key, not any base64.
  if (bytes.length < 4 + type.length || bytes.subarray(4, 4 + type.length).toString('latin1') !== type) {
    throw bad('public_key has no valid base64 key data after the key type');
  }
  const fingerprint = `SHA256:${createHash('sha256').update(bytes).digest('base64').replace(/=+$/, '')}`;
  return { type, fingerprint, normalised: [type, blob, ...comment].join(' ') };
}

const CreateKeyBody = z.object({ name: z.string().min(1).max(255), public_key: z.string().min(1) });

async function createSshKey(r: ApiRequest): Promise<Reply> {
  const body = validateBody(CreateKeyBody, await r.json());
  const parsed = parsePublicKey(body.public_key);
  const keys = sshKeysOf(r.core, r.ws.id);
  if (keys.some((k) => k.fingerprint === parsed.fingerprint)) {
    throw structuredError(409, 'ERR-01-004', `An SSH key with fingerprint ${parsed.fingerprint} already exists`, {
      details: [{ field: 'public_key', value: parsed.fingerprint, message: 'duplicate' }],
      suggestions: ['List your keys with GET /user/ssh-keys; delete the old one first to rename it'],
    });
  }
  const now = new Date().toISOString();
  const key: SshKey = {
    id: hashid('sshkey', 10),
    user_id: String(r.ws.userId),
    name: body.name,
    public_key: parsed.normalised,
    fingerprint: parsed.fingerprint,
    key_type: parsed.type,
    source: 'manual',
    key_metadata: null,
    last_synced_at: null,
    created_at: now,
    updated_at: now,
  };
  setSshKeys(r.core, r.ws.id, [...keys, key]);
  return { status: 201, body: key };
}

function listSshKeys(r: ApiRequest): Reply {
  return ok(sshKeysOf(r.core, r.ws.id));
}

function deleteSshKey(r: ApiRequest): Reply {
  const keys = sshKeysOf(r.core, r.ws.id);
  const rest = keys.filter((k) => k.id !== r.params.keyId);
  if (rest.length === keys.length) throw detailError(404, 'SSH key not found');
  setSshKeys(r.core, r.ws.id, rest);
  return { status: 204 };
}

/** Every OS image of the fleet once, newest first. */
function osImages(r: ApiRequest): Reply {
  const { page, pageSize } = pageParams(r, 20);
  const isDev = r.query.get('is_dev');
  const seen = new Map<string, ReturnType<typeof osImage>>();
  for (const node of r.core.allNodes()) for (const img of node.images) seen.set(img.name, osImage(img));
  const items = [...seen.values()]
    .filter((i) => isDev === null || String(i.is_dev) === isDev)
    .sort((a, b) => b.version.localeCompare(a.version, undefined, { numeric: true }) || a.name.localeCompare(b.name));
  return ok(paginate(items, page, pageSize));
}

function osImage(img: SimNode['images'][number]) {
  return {
    name: img.name,
    slug: img.name.replace(/^dstack-/, ''),
    version: img.version.join('.'),
    os_image_hash: img.osImageHash,
    is_dev: img.isDev ?? false,
    requires_gpu: false,
  };
}

export function registerAccountRoutes(router: ApiRouter): void {
  router
    .add('GET', '/workspaces', listWorkspaces)
    .add('GET', '/workspaces/:slug', getWorkspace)
    .add('GET', '/workspaces/:slug/nodes', workspaceNodes)
    .add('GET', '/workspaces/:slug/quotas', quotas)
    .add('GET', '/user/ssh-keys', listSshKeys)
    .add('POST', '/user/ssh-keys', createSshKey)
    .add('DELETE', '/user/ssh-keys/:keyId', deleteSshKey)
    .add('GET', '/os-images', osImages);
}
