// Reads a workflow's history as stored by the server, and decodes its payloads with the codec, to prove what
// does — and does not — reach Temporal.
import type { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import proto from '@temporalio/proto';
import { AesGcmPayloadCodec } from '../../src/temporal/codec';
import { rawClient, TEST_CODEC_KEYS } from './temporal';

export async function rawHistory(workflowId: string, client?: Client) {
  const c = client ?? (await rawClient());
  try {
    const { history } = await c.workflowService.getWorkflowExecutionHistory({
      namespace: c.options.namespace,
      execution: { workflowId },
    });
    return history ?? {};
  } finally {
    if (!client) await c.connection.close();
  }
}

/** The history exactly as the server stores it, as bytes. */
export async function rawHistoryBytes(workflowId: string): Promise<Buffer> {
  return Buffer.from(proto.temporal.api.history.v1.History.encode(await rawHistory(workflowId)).finish());
}

function collectPayloads(node: unknown, out: Payload[]): void {
  if (!node || typeof node !== 'object') return;
  const obj = node as Record<string, unknown>;
  if (obj.metadata && typeof obj.metadata === 'object' && 'data' in obj) out.push(obj as Payload);
  for (const value of Object.values(obj)) collectPayloads(value, out);
}

/** Every payload of the history, decrypted: what a holder of the codec key could read. */
export async function decodedHistoryText(workflowId: string): Promise<string> {
  const payloads: Payload[] = [];
  collectPayloads(await rawHistory(workflowId), payloads);
  const decoded = await new AesGcmPayloadCodec(TEST_CODEC_KEYS).decode(payloads);
  return decoded.map((p) => Buffer.from(p.data ?? new Uint8Array()).toString('utf8')).join('\n');
}
