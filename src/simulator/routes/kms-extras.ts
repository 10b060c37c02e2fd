// KMS routes beyond the list/detail/pubkey of resources.ts: the on-chain detail of a chain's KMS contracts
// (`GET /kms/on-chain/{chain}`, by chain name or id), the nodes of a KMS contract (`GET /kms/{slug}/nodes`, API
// 2026-06-23's contract-centric view; Go SDK ListKMSContractNodes) and the next app ids of Phala's KMS
// (`GET /kms/phala/next_app_id`: the CREATE addresses of the workspace's deployer wallet at its next nonces, which
// is how the real API derives custom app ids). The simulator's OnChainVerifier models the app contracts, not the KMS contract's own device and
// image allow-lists, so those report `on_chain_allowed: null` (unknown) rather than a made-up answer.
import { createHash } from 'node:crypto';
import { getContractAddress } from 'viem';
import { detailError, notFound, validationError } from '../http/errors';
import { findKmsContract, kmsContractNode } from '../shapes/kms-contracts';
import { type ApiRequest, type ApiRouter, ok, type Reply } from './types';

const CHAINS: { id: number; name: string }[] = [
  { id: 1, name: 'ethereum' },
  { id: 8453, name: 'base' },
  { id: 31337, name: 'anvil' },
];

function onChainDetail(r: ApiRequest): Reply {
  const raw = r.params.chain!.toLowerCase();
  const chain = CHAINS.find((c) => c.name === raw || String(c.id) === raw);
  if (!chain) {
    throw detailError(
      404,
      `Unknown chain '${r.params.chain}': use ${CHAINS.map((c) => `${c.name} (${c.id})`).join(', ')}`,
    );
  }
  const verifier = r.core.opts.onChainVerifier;
  const contracts =
    verifier && verifier.chainId === chain.id
      ? [
          {
            contract_address: verifier.kmsContractAddress,
            chain_id: chain.id,
            chain_name: chain.name,
            devices: r.core
              .allNodes()
              .map((n) => ({ device_id: n.deviceId, node_name: n.name, on_chain_allowed: null })),
            os_images: [...new Map(r.core.allNodes().flatMap((n) => n.images.map((i) => [i.name, i]))).values()].map(
              (i) => ({
                name: i.name,
                version: i.version.join('.'),
                os_image_hash: i.osImageHash,
                on_chain_allowed: null,
              }),
            ),
          },
        ]
      : [];
  return ok({ chain_name: chain.name, chain_id: chain.id, contracts });
}

function nextAppIds(r: ApiRequest): Reply {
  const raw = r.query.get('counts') ?? '1';
  const counts = Number(raw);
  if (!Number.isInteger(counts) || counts < 1 || counts > 20) {
    throw validationError([
      {
        type: 'less_than_equal',
        loc: ['query', 'counts'],
        msg: 'Input should be an integer from 1 to 20',
        input: raw,
        ctx: { ge: 1, le: 20 },
      },
    ]);
  }
  // A stable per-workspace deployer address; its nonce advances with each app the workspace has.
  const wallet = `0x${createHash('sha256').update(`deployer:${r.ws.id}`).digest('hex').slice(0, 40)}` as const;
  const used = [...r.core.store.apps.values()].filter((a) => a.workspaceId === r.ws.id).length;
  const app_ids = Array.from({ length: counts }, (_, i) => {
    const nonce = used + i;
    return {
      app_id: getContractAddress({ from: wallet, nonce: BigInt(nonce) })
        .slice(2)
        .toLowerCase(),
      nonce,
    };
  });
  return ok({ app_ids });
}

function contractNodes(r: ApiRequest): Reply {
  const kms = findKmsContract(r.core, r.params.slug!);
  if (!kms) throw notFound('KMS contract');
  return ok({ items: [kmsContractNode(kms)], total: 1 });
}

export function registerKmsExtraRoutes(router: ApiRouter): void {
  router
    .add('GET', '/kms/on-chain/:chain', onChainDetail)
    .add('GET', '/kms/phala/next_app_id', nextAppIds)
    .add('GET', '/kms/:slug/nodes', contractNodes);
}
