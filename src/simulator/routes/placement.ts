// Where a new CVM goes and how big it is: node choice (explicit, or the one with most free slots matching region
// and image), instance-type sizing, image availability and node capacity (ERR-02-00x).
import { DEFAULT_INSTANCE_TYPE, defaultImage, INSTANCE_TYPES, type SimNode } from '../catalog';
import type { SimCore } from '../core';
import { structuredError } from '../http/errors';
import { nodeNotFound } from './checks';

export interface PlacementRequest {
  nodeId?: number | null;
  region?: string | null;
  image?: string | null;
  instanceType?: string | null;
  vcpu?: number | null;
  memoryMb?: number | null;
  diskGb?: number | null;
}

export interface Placement {
  node: SimNode;
  image: string;
  instanceType: string | null;
  vcpu: number;
  memoryMb: number;
  diskGb: number;
}

function imageMissing(image: string | null | undefined, where: SimNode[]) {
  const available = [...new Set(where.flatMap((n) => n.images.map((i) => i.name)))].join(', ');
  const place = where.length === 1 ? `node ${where[0]!.name}` : 'any node';
  return structuredError(400, 'ERR-02-010', `Image '${image}' is not available on ${place}`, {
    details: [{ field: 'image', value: image ?? null, message: `available: ${available}` }],
  });
}

function pickNode(core: SimCore, req: PlacementRequest): SimNode {
  if (req.nodeId !== undefined && req.nodeId !== null) {
    const node = core.node(req.nodeId);
    if (!node) throw nodeNotFound(req.nodeId);
    return node;
  }
  const free = (n: SimNode) => n.slots - core.liveCvmsOnNode(n.id).length;
  const node = core
    .allNodes()
    .filter(
      (n) =>
        (!req.region || n.region.toLowerCase() === req.region.toLowerCase()) &&
        (!req.image || n.images.some((i) => i.name === req.image)),
    )
    .map((n) => ({ n, free: free(n) }))
    .sort((a, b) => b.free - a.free)[0]?.n;
  if (!node) {
    throw structuredError(400, 'ERR-02-002', 'No node matches the requested region and image', {
      details: [
        { field: 'region', value: req.region ?? null, message: null },
        { field: 'image', value: req.image ?? null, message: null },
      ],
    });
  }
  return node;
}

/** `tdx.small` when none of instance_type / vcpu / memory is given (the SDK applies the same default). */
function size(req: PlacementRequest): Pick<Placement, 'instanceType' | 'vcpu' | 'memoryMb' | 'diskGb'> {
  const wanted = req.instanceType ?? (req.vcpu || req.memoryMb ? null : DEFAULT_INSTANCE_TYPE);
  if (!wanted) {
    return { instanceType: null, vcpu: req.vcpu ?? 1, memoryMb: req.memoryMb ?? 2048, diskGb: req.diskGb ?? 20 };
  }
  const t = INSTANCE_TYPES.find((i) => i.id === wanted);
  if (!t) {
    throw structuredError(400, 'ERR-02-001', `Instance type '${wanted}' not found`, {
      details: [{ field: 'instance_type', value: wanted, message: null }],
      suggestions: ['List instance types with GET /instance-types'],
    });
  }
  return { instanceType: t.id, vcpu: t.vcpu, memoryMb: t.memory_mb, diskGb: req.diskGb ?? t.default_disk_size_gb };
}

function checkCapacity(core: SimCore, p: Placement): void {
  const { node } = p;
  const cvms = core.liveCvmsOnNode(node.id);
  const fail = (code: string, message: string) =>
    structuredError(400, code, message, { details: [{ field: 'teepod_id', value: node.id, message: null }] });
  if (cvms.length >= node.slots) throw fail('ERR-02-005', `Node ${node.name} has no free CVM slots`);
  if (cvms.reduce((s, c) => s + c.vcpu, 0) + p.vcpu > node.vcpu) {
    throw fail('ERR-02-003', `Node ${node.name} lacks ${p.vcpu} free vCPUs`);
  }
  if (cvms.reduce((s, c) => s + c.memoryMb, 0) + p.memoryMb > node.memoryMb) {
    throw fail('ERR-02-004', `Node ${node.name} lacks ${p.memoryMb} MB of free memory`);
  }
}

export function place(core: SimCore, req: PlacementRequest): Placement {
  if (req.image && !core.allNodes().some((n) => n.images.some((i) => i.name === req.image))) {
    throw imageMissing(req.image, core.allNodes());
  }
  const node = pickNode(core, req);
  const image = req.image ?? defaultImage(node);
  if (!image || !node.images.some((i) => i.name === image)) throw imageMissing(req.image, [node]);
  const placement = { node, image, ...size(req) };
  checkCapacity(core, placement);
  return placement;
}
