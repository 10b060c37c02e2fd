// Read-only catalogue endpoints: nodes, instance types, KMS, the current user. `/kms`, `/kms/…/pubkey/…` and
// `/instance-types` are validated with STRICT schemas by the SDK: no extra top-level keys (reference §14.6).
import { INSTANCE_TYPES } from '../catalog';
import { createApp } from '../factory';
import { detailError, notFound, validationError } from '../http/errors';
import { normaliseAppId } from '../resolve';
import { contractKms, findKmsContract, kmsContract, kmsContracts, kmsInfo } from '../shapes';
import { type ApiRequest, type ApiRouter, ok, type Reply } from './types';

function availableNodes({ core }: ApiRequest): Reply {
  const kmsIds = core.kmsList().map((k) => k.id);
  const nodes = core.allNodes().map((n) => {
    const cvms = core.liveCvmsOnNode(n.id);
    return {
      teepod_id: n.id,
      name: n.name,
      listed: n.listed,
      resource_score: 1,
      remaining_vcpu: n.vcpu - cvms.reduce((s, c) => s + c.vcpu, 0),
      remaining_memory: n.memoryMb - cvms.reduce((s, c) => s + c.memoryMb, 0),
      remaining_cvm_slots: n.slots - cvms.length,
      images: n.images.map((i) => ({
        name: i.name,
        is_dev: i.isDev ?? false,
        version: i.version,
        os_image_hash: i.osImageHash,
      })),
      support_onchain_kms: core.opts.onChainVerifier !== undefined,
      fmspc: n.fmspc,
      device_id: n.deviceId,
      region_identifier: n.region,
      default_kms: kmsIds[0] ?? null,
      kms_list: kmsIds,
    };
  });
  return ok({
    tier: 'PRO',
    capacity: { max_instances: null, max_vcpu: null, max_memory: null, max_disk: null },
    nodes,
    kms_list: core.kmsList().map(kmsInfo),
  });
}

export function pageParams(r: ApiRequest, defaultSize: number): { page: number; pageSize: number } {
  const page = Number(r.query.get('page') ?? 1);
  const pageSize = Number(r.query.get('page_size') ?? defaultSize);
  const issues = [];
  if (!Number.isInteger(page) || page < 1) {
    issues.push({
      type: 'greater_than_equal',
      loc: ['query', 'page'],
      msg: 'Input should be greater than or equal to 1',
      input: r.query.get('page'),
      ctx: { ge: 1 },
    });
  }
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) {
    issues.push({
      type: 'less_than_equal',
      loc: ['query', 'page_size'],
      msg: 'Input should be between 1 and 100',
      input: r.query.get('page_size'),
      ctx: { ge: 1, le: 100 },
    });
  }
  if (issues.length > 0) throw validationError(issues);
  return { page, pageSize };
}

export function paginate<T>(items: T[], page: number, pageSize: number) {
  return {
    items: items.slice((page - 1) * pageSize, page * pageSize),
    total: items.length,
    page,
    page_size: pageSize,
    pages: Math.max(1, Math.ceil(items.length / pageSize)),
  };
}

function kmsList(r: ApiRequest): Reply {
  const { page, pageSize } = pageParams(r, 20);
  const onchain = r.query.get('is_onchain');
  const wanted = (chainId: number | null) => onchain === null || (onchain === 'true') === (chainId !== null);
  if (contractKms(r.version)) {
    const contracts = kmsContracts(r.core)
      .filter((c) => wanted(c.chainId === 0 ? null : c.chainId))
      .map((c) => kmsContract(r.core, c));
    return ok(paginate(contracts, page, pageSize));
  }
  const items = r.core
    .kmsList()
    .filter((k) => wanted(k.chain_id))
    .map(kmsInfo);
  return ok(paginate(items, page, pageSize));
}

/** From 2026-06-23 the segment names a contract (id, slug or address) and the answer is the contract. */
function kmsGet(r: ApiRequest): Reply {
  if (contractKms(r.version)) {
    const contract = findKmsContract(r.core, r.params.kms!);
    if (!contract) throw notFound('KMS contract');
    return ok(kmsContract(r.core, contract));
  }
  const kms = r.core.kmsByIdOrSlug(r.params.kms!);
  if (!kms) throw notFound('KMS');
  return ok(kmsInfo(kms));
}

async function kmsPubkey(r: ApiRequest): Promise<Reply> {
  // The CLI passes the CVM's kms_type (`base`, `ethereum`) as the KMS segment for existing CVMs (reference §8).
  const segment = r.params.kms!.toLowerCase();
  const chainType = segment === 'ethereum' ? 'ethereum' : 'base';
  const kms =
    r.core.kmsByIdOrSlug(segment) ??
    (segment === chainType ? r.core.kmsForType(chainType) : undefined) ??
    findKmsContract(r.core, segment)?.nodes[0];
  if (!kms) throw notFound('KMS');
  const appId = normaliseAppId(r.params.appId!);
  if (!appId) throw detailError(400, 'Invalid app id: expected 40 hex characters, optionally prefixed with 0x');
  let app = r.core.store.apps.get(appId);
  if (!app && kms.chain_id !== null) {
    // On-chain apps are registered on the chain, not here: their key pair comes into being on first request,
    // which is when the real KMS derives it (CLI deploy step 3, reference §8).
    app = createApp(r.core, r.ws, { appId, name: appId, kmsType: chainType, kmsId: kms.id });
  }
  if (!app) throw notFound('App');
  return ok({ public_key: app.envPublicKey, signature: await r.core.signer.signEnvPubkey(appId, app.envPublicKey) });
}

function instanceTypes(): Reply {
  const families = [...new Set(INSTANCE_TYPES.map((t) => t.family ?? 'default'))];
  return ok({
    result: families.map((name) => {
      const items = INSTANCE_TYPES.filter((t) => (t.family ?? 'default') === name);
      return { name, items, total: items.length };
    }),
  });
}

function instanceTypeFamily(r: ApiRequest): Reply {
  const family = r.params.family!;
  const items = INSTANCE_TYPES.filter((t) => t.family === family);
  if (items.length === 0) throw notFound('Instance type family');
  return ok({ items, total: items.length, family });
}

function currentUser({ ws, version }: ApiRequest): Reply {
  if (version === '2025-10-28') {
    return ok({
      username: ws.username,
      email: ws.email,
      credits: 1000,
      granted_credits: 0,
      avatar: '',
      team_name: ws.name,
      team_tier: 'PRO',
    });
  }
  return ok({
    user: {
      username: ws.username,
      email: ws.email,
      role: 'user',
      avatar: '',
      email_verified: true,
      totp_enabled: false,
      has_backup_codes: false,
      flag_has_password: true,
    },
    workspace: { id: ws.id, name: ws.name, slug: ws.slug, tier: 'PRO', role: 'owner', avatar: null },
    credits: { balance: '1000.00', granted_balance: '0.00', is_post_paid: false, outstanding_amount: null },
  });
}

export function registerResourceRoutes(router: ApiRouter): void {
  router
    .add('GET', '/teepods/available', availableNodes)
    .add('GET', '/instance-types', instanceTypes)
    .add('GET', '/instance-types/:family', instanceTypeFamily)
    .add('GET', '/kms', kmsList)
    .add('GET', '/kms/:kms', kmsGet)
    .add('GET', '/kms/:kms/pubkey/:appId', kmsPubkey)
    .add('GET', '/auth/me', currentUser);
}
