// Request checks shared by provision, commit, compose updates and replicas, with the real API's error codes
// (reference §10.3): hostname rules (422), compose presence and shape (ERR-01-002 / -003), KMS type, unknown node
// (ERR-01-001), duplicate names (ERR-01-004).
import { parse as parseYaml } from 'yaml';
import type { SimCore } from '../core';
import { structuredError, validationError } from '../http/errors';
import type { KmsType, Workspace } from '../model';

const HOSTNAME = /^[a-zA-Z](?!.*--)([a-zA-Z0-9-]*[a-zA-Z0-9])?$/;
const NAME_RULE = 'Name must be 5-63 characters, start with letter, and contain only letters/numbers/hyphens';

export function checkName(name: string): void {
  if (name.length < 5 || name.length > 63 || !HOSTNAME.test(name)) {
    throw validationError([
      { type: 'value_error', loc: ['body', 'name'], msg: `Value error, ${NAME_RULE}`, input: name },
    ]);
  }
}

/** The compose must be present and be YAML with a `services` mapping. */
export function checkComposeFile(compose: Record<string, unknown> | null | undefined): Record<string, unknown> {
  const runner = compose?.runner ?? 'docker-compose';
  const file = compose?.docker_compose_file;
  if (!compose || (runner === 'docker-compose' && (typeof file !== 'string' || file.trim() === ''))) {
    throw structuredError(400, 'ERR-01-002', 'compose_file.docker_compose_file is required', {
      details: [{ field: 'compose_file.docker_compose_file', value: null, message: 'missing or empty' }],
      suggestions: ['Send the docker-compose YAML as compose_file.docker_compose_file'],
    });
  }
  if (typeof file === 'string') {
    let doc: unknown;
    let reason = 'it has no top-level `services` mapping';
    try {
      doc = parseYaml(file);
    } catch (err) {
      reason = `YAML error: ${(err as Error).message.split('\n')[0]}`;
    }
    const services = doc && typeof doc === 'object' ? (doc as Record<string, unknown>).services : undefined;
    if (!services || typeof services !== 'object' || Array.isArray(services)) {
      throw structuredError(400, 'ERR-01-003', `Invalid docker compose file: ${reason}`, {
        details: [{ field: 'compose_file.docker_compose_file', value: null, message: reason }],
      });
    }
  }
  return compose;
}

/** Clients send PHALA|ETHEREUM|BASE, the OpenAPI enum is lowercase: accept any case (reference §0.8). */
export function parseKmsType(raw: string | null | undefined): KmsType {
  const kms = (raw ?? 'phala').toLowerCase();
  if (kms === 'phala' || kms === 'ethereum' || kms === 'base') return kms;
  throw validationError([
    {
      type: 'enum',
      loc: ['body', 'kms'],
      msg: "Input should be 'phala', 'ethereum' or 'base'",
      input: raw,
      ctx: { expected: "'phala', 'ethereum' or 'base'" },
    },
  ]);
}

export function onChainUnsupported(kms: KmsType) {
  return structuredError(
    400,
    'ERR-02-009',
    `On-chain KMS (${kms}) is not supported in this simulator configuration: no on-chain verifier is configured`,
    {
      details: [{ field: 'kms', value: kms.toUpperCase(), message: 'needs an onChainVerifier' }],
      suggestions: ['Use kms PHALA, or start the simulator with an onChainVerifier connected to a chain'],
    },
  );
}

export function nodeNotFound(id: number) {
  return structuredError(400, 'ERR-01-001', `Node ${id} not found`, {
    details: [{ field: 'teepod_id', value: id, message: 'no such node' }],
    suggestions: ['List nodes with GET /teepods/available'],
  });
}

/** Names are unique per workspace among live CVMs, except between replicas of one app (which share it). */
export function checkNameFree(core: SimCore, ws: Workspace, name: string, exceptAppId?: string): void {
  for (const c of core.store.cvmsOf(ws.id)) {
    if (c.name === name && c.appId !== exceptAppId) {
      throw structuredError(409, 'ERR-01-004', `A CVM named '${name}' already exists`, {
        details: [{ field: 'name', value: name, message: 'duplicate' }],
        suggestions: ['Pick another name, or update the existing CVM'],
      });
    }
  }
}
