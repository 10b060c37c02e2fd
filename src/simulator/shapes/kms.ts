// API version 2026-06-23 makes the KMS API contract-centric: `GET /kms` lists KMS *contracts* (a group of equivalent
// KMS node replicas sharing one root key) and `/kms/{contract}` addresses one by id, slug or contract address
// (upstream Python SDK `models/kms.py` KmsContract / KmsContractNode). Older versions keep listing KMS nodes
// (`KmsInfo`). The builders live here so every route that answers a contract (list, detail, nodes, on-chain
// detail) speaks one shape.
import type { KmsEntry } from '../catalog';
import type { SimCore } from '../core';

/** The off-chain Phala KMS has no address; upstream uses the sentinel "phala" with chain id 0. */
const PHALA_CONTRACT = 'phala';

const CHAIN_SLUGS: Record<number, string> = { 1: 'ethereum', 8453: 'base', 31337: 'anvil' };

export interface KmsContractGroup {
  id: string;
  slug: string;
  label: string;
  contractAddress: string;
  chainId: number;
  nodes: KmsEntry[];
}

function contractKey(k: KmsEntry): string {
  return k.chain_id === null ? PHALA_CONTRACT : `${k.chain_id}:${(k.kms_contract_address ?? '').toLowerCase()}`;
}

/** Groups the simulator's KMS nodes by contract; ids are derived from the contract so they are stable. */
export function kmsContracts(core: SimCore): KmsContractGroup[] {
  const groups = new Map<string, KmsContractGroup>();
  for (const k of core.kmsList()) {
    const key = contractKey(k);
    const group = groups.get(key);
    if (group) {
      group.nodes.push(k);
      continue;
    }
    const onChain = k.chain_id !== null;
    const chainSlug = onChain ? (CHAIN_SLUGS[k.chain_id!] ?? `chain-${k.chain_id}`) : PHALA_CONTRACT;
    groups.set(key, {
      id: `kc_${Buffer.from(key).toString('hex').slice(0, 16)}`,
      slug: chainSlug,
      label: onChain ? `${chainSlug[0]!.toUpperCase()}${chainSlug.slice(1)} KMS` : 'Phala KMS',
      contractAddress: onChain ? (k.kms_contract_address ?? '') : PHALA_CONTRACT,
      chainId: k.chain_id ?? 0,
      nodes: [k],
    });
  }
  return [...groups.values()];
}

/** A contract by its id, slug or address (case-insensitive), or the contract of a KMS node id/slug. */
export function findKmsContract(core: SimCore, ident: string): KmsContractGroup | undefined {
  const key = ident.toLowerCase();
  return kmsContracts(core).find(
    (c) =>
      c.id.toLowerCase() === key ||
      c.slug === key ||
      c.contractAddress.toLowerCase() === key ||
      c.nodes.some((n) => n.id.toLowerCase() === key || n.slug.toLowerCase() === key),
  );
}

export function kmsContract(core: SimCore, c: KmsContractGroup) {
  return {
    id: c.id,
    slug: c.slug,
    label: c.label,
    contract_address: c.contractAddress,
    chain_id: c.chainId,
    k256_pubkey: core.signer.k256Pubkey,
    ca_pubkey: null,
    node_count: c.nodes.length,
  };
}

/** One KMS node under a contract, with the RPC url clients talk to. */
export function kmsContractNode(c: KmsContractGroup, node: KmsEntry) {
  return {
    id: node.id,
    slug: node.slug,
    url: node.url,
    version: node.version,
    kms_type: c.chainId === 0 ? 'phala' : c.chainId === 8453 ? 'base' : 'ethereum',
  };
}
