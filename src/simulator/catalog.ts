// The simulated fleet: nodes with their OS images and capacity, instance types and KMS instances. Defaults mirror
// the production catalogue's naming (tdx.* sizes, dstack-<version> images, one centralized Phala KMS).
import { createHash } from 'node:crypto';

export type ImageVersion = [number, number, number] | [number, number, number, number];

export interface SimImage {
  name: string;
  version: ImageVersion;
  isDev?: boolean;
}

export interface SimNodeSpec {
  id: number;
  name: string;
  region?: string;
  images: SimImage[];
  /** Maximum number of CVMs on the node (`remaining_cvm_slots` counts down from it). */
  slots?: number;
  vcpu?: number;
  memoryMb?: number;
  listed?: boolean;
}

export interface SimNode {
  id: number;
  name: string;
  region: string;
  images: (SimImage & { osImageHash: string })[];
  slots: number;
  vcpu: number;
  memoryMb: number;
  listed: boolean;
  deviceId: string;
  ppid: string;
  fmspc: string;
  gatewayDomain: string;
}

export interface InstanceType {
  id: string;
  name: string;
  description: string;
  vcpu: number;
  memory_mb: number;
  hourly_rate: string;
  requires_gpu: boolean;
  default_disk_size_gb: number;
  family: string | null;
}

export interface KmsEntry {
  id: string;
  slug: string;
  url: string;
  version: string;
  chain_id: number | null;
  kms_contract_address: string | null;
  gateway_app_id: string | null;
}

const IMAGE_053: SimImage = { name: 'dstack-0.5.3', version: [0, 5, 3] };
const IMAGE_DEV_053: SimImage = { name: 'dstack-dev-0.5.3', version: [0, 5, 3], isDev: true };
const IMAGE_041: SimImage = { name: 'dstack-0.4.1', version: [0, 4, 1] };
const IMAGE_036: SimImage = { name: 'dstack-0.3.6', version: [0, 3, 6] };

/** Node 3 only carries an old image, so replicating a 0.5.x CVM onto it answers ERR-03-006. */
export const DEFAULT_NODES: SimNodeSpec[] = [
  { id: 1, name: 'prod5', region: 'US-WEST-1', images: [IMAGE_053, IMAGE_DEV_053, IMAGE_041], slots: 2000 },
  { id: 2, name: 'prod7', region: 'EU-WEST-1', images: [IMAGE_053, IMAGE_DEV_053], slots: 2000 },
  { id: 3, name: 'legacy1', region: 'AP-SOUTHEAST-1', images: [IMAGE_036], slots: 100 },
];

export const INSTANCE_TYPES: InstanceType[] = [
  ['tdx.small', 1, 2048, '0.058'],
  ['tdx.medium', 2, 4096, '0.116'],
  ['tdx.large', 4, 8192, '0.232'],
  ['tdx.xlarge', 8, 16384, '0.464'],
  ['tdx.2xlarge', 16, 32768, '0.928'],
].map(([id, vcpu, memory, rate]) => ({
  id: id as string,
  name: (id as string).replace('tdx.', 'TDX ').replace(/\b\w/g, (c) => c.toUpperCase()),
  description: `${vcpu} vCPU, ${(memory as number) / 1024} GB memory`,
  vcpu: vcpu as number,
  memory_mb: memory as number,
  hourly_rate: rate as string,
  requires_gpu: false,
  default_disk_size_gb: 20,
  family: 'cpu',
}));

export const DEFAULT_INSTANCE_TYPE = 'tdx.small';

export const PHALA_KMS: KmsEntry = {
  id: 'kms_Ph4la5imKms1',
  slug: 'phala-sim',
  url: 'https://kms.sim.phala.invalid',
  version: 'v0.5.3',
  chain_id: null,
  kms_contract_address: null,
  gateway_app_id: null,
};

const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/**
 * The 20 bytes a node's quoting enclave writes into the quote header's user_data. dstack derives the device id from
 * them (device_id = sha256(user_data)), so a verifier can tie a quote to the node it claims to come from.
 */
export const quoteUserData = (nodeName: string): Buffer =>
  createHash('sha256').update(`qe-user-data:${nodeName}`, 'utf8').digest().subarray(0, 20);

/** Device ids and image hashes are derived from names so they are stable across runs (on-chain allowlists). */
export function buildNode(spec: SimNodeSpec): SimNode {
  return {
    id: spec.id,
    name: spec.name,
    region: spec.region ?? 'US-WEST-1',
    images: spec.images.map((img) => ({ ...img, osImageHash: sha(`os-image:${img.name}`) })),
    slots: spec.slots ?? 1000,
    vcpu: spec.vcpu ?? 4096,
    memoryMb: spec.memoryMb ?? 8 * 1024 * 1024,
    listed: spec.listed ?? true,
    deviceId: createHash('sha256').update(quoteUserData(spec.name)).digest('hex'),
    ppid: sha(`ppid:${spec.name}`).slice(0, 32),
    fmspc: 'B0C06F000000',
    gatewayDomain: `${spec.name}.sim.phala.invalid`,
  };
}

/** The image a new CVM gets when the request names none: the newest production image on the node. */
export function defaultImage(node: SimNode): string | undefined {
  const prod = node.images.filter((i) => !i.isDev);
  const pool = prod.length > 0 ? prod : node.images;
  return [...pool].sort((a, b) => compareVersions(b.version, a.version))[0]?.name;
}

function compareVersions(a: ImageVersion, b: ImageVersion): number {
  for (let i = 0; i < 4; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
