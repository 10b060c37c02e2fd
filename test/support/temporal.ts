// Test helpers for the one real Temporal dev server that test/support/global-setup.ts starts per run.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { inject } from 'vitest';
import { type CodecKey, parseKeyRing } from '../../src/temporal/codec';
import { connectClient, connectWorkerConnection } from '../../src/temporal/connection';

export const TEST_CODEC_KEY_TEXT = `test-2026:${Buffer.alloc(32, 7).toString('base64')}`;
export const TEST_CODEC_KEYS: CodecKey[] = parseKeyRing(TEST_CODEC_KEY_TEXT);
export const TEST_WORKFLOWS_PATH = fileURLToPath(new URL('./workflows.ts', import.meta.url));

export function temporalTarget() {
  return { address: inject('temporalAddress'), namespace: inject('temporalNamespace') };
}

export const uniqueId = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

/** A client with the project's codec, like every client cvmflow creates. */
export function codecClient(codecKeys: CodecKey[] = TEST_CODEC_KEYS): Promise<Client> {
  return connectClient({ ...temporalTarget(), codecKeys });
}

/** A client with no codec at all: what an attacker with database access sees. */
export async function rawClient(): Promise<Client> {
  const target = temporalTarget();
  return new Client({ connection: await Connection.connect({ address: target.address }), namespace: target.namespace });
}

export function workerConnection() {
  return connectWorkerConnection(temporalTarget());
}
