// API version 2026-06-23's contract-centric KMS shapes (Go SDK `KMSContract`, `KMSContractNode`): a KMS contract is
// a group of KMS node replicas sharing one root key, addressed by slug or by a `kc_` id; Phala's own off-chain KMS
// appears with the sentinel contract address "phala" and chain id 0. The simulator runs one node per contract, so
// each contract lists exactly one node; every contract's k256 key is the simulator's KMS signer key (the key
// env-encryption pubkey signatures recover to) and its CA key the one CVMs' key-provider events name.
import { createHash } from 'node:crypto';
import type { KmsEntry } from '../catalog';
import type { SimCore } from '../core';

/** A stable `kc_` id for a KMS entry, so clients can address a contract by id as well as by slug. */
export const kmsContractId = (k: KmsEntry): string =>
  `kc_${createHash('sha256').update(`kms-contract:${k.id}`).digest('hex').slice(0, 12)}`;

/** What a CVM's `key-provider` event names: the KMS root CA key (SPKI hex), published as `ca_pubkey`. */
export const kmsKeyProviderId = (core: SimCore): string => core.signer.caPublicKeySpki;

/** The KMS instance's aggregated measurement a CVM extends as `mr-kms` (the KMS runs in a CVM of its own). */
export const kmsMeasurement = (core: SimCore): string =>
  createHash('sha256').update(`kms-mr-aggregated:${core.signer.caPublicKeySpki}`).digest('hex');

export function kmsContract(core: SimCore, k: KmsEntry) {
  return {
    id: kmsContractId(k),
    slug: k.slug,
    label: k.chain_id === null ? 'Phala KMS' : `On-chain KMS (chain ${k.chain_id})`,
    contract_address: k.kms_contract_address ?? 'phala',
    chain_id: k.chain_id ?? 0,
    k256_pubkey: core.signer.k256Pubkey,
    ca_pubkey: kmsKeyProviderId(core),
    node_count: 1,
  };
}

export function kmsContractNode(k: KmsEntry) {
  return {
    id: k.id,
    slug: k.slug,
    url: k.url,
    version: k.version,
    kms_type: k.chain_id === null ? 'phala' : k.chain_id === 8453 ? 'base' : 'ethereum',
  };
}

/** The contract a path segment names: slug, `kc_` id, node id, or contract address. */
export function findKmsContract(core: SimCore, ref: string): KmsEntry | undefined {
  const key = ref.toLowerCase();
  return core
    .kmsList()
    .find(
      (k) =>
        k.slug.toLowerCase() === key ||
        kmsContractId(k) === key ||
        k.id.toLowerCase() === key ||
        (k.kms_contract_address ?? 'phala').toLowerCase() === key,
    );
}
