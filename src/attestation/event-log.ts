// dstack's event log rules, written here independently of the simulator so the verifier checks the rule rather than
// trusting whoever built the log: a runtime event's digest is sha384(le32(event_type) ‖ ":" ‖ name ‖ ":" ‖ payload)
// (dstack cc-eventlog), and an RTMR is the TDX extend chain mr = sha384(mr ‖ digest) from 48 zero bytes, one chain per
// IMR. Boot events (IMR 0–2) carry firmware digests whose inputs the log does not hold: they replay, nothing more.
import { createHash } from 'node:crypto';
import type { EventLogEntry } from '../phala/schemas';

/** dstack's event type for runtime (RTMR3) events. */
export const DSTACK_RUNTIME_EVENT_TYPE = 0x08000001;

export type { EventLogEntry };

const sha384 = (data: Buffer) => createHash('sha384').update(data).digest();

/** The digest dstack records for a runtime event. */
export function runtimeEventDigest(e: Pick<EventLogEntry, 'event_type' | 'event' | 'event_payload'>): string {
  const type = Buffer.alloc(4);
  type.writeUInt32LE(e.event_type >>> 0);
  return sha384(
    Buffer.concat([type, Buffer.from(`:${e.event}:`, 'utf8'), Buffer.from(e.event_payload, 'hex')]),
  ).toString('hex');
}

/** The register value the events of one IMR extend to (digests shorter than 48 bytes are zero-padded, as dstack does). */
export function replayImr(events: readonly EventLogEntry[], imr: number): string {
  let mr = Buffer.alloc(48);
  for (const e of events) {
    if (e.imr !== imr) continue;
    const digest = Buffer.alloc(48);
    Buffer.from(e.digest, 'hex').copy(digest);
    mr = sha384(Buffer.concat([mr, digest]));
  }
  return mr.toString('hex');
}

/** The payload (hex) of the last runtime event with this name, or undefined. */
export function runtimePayload(events: readonly EventLogEntry[], name: string): string | undefined {
  return events.findLast((e) => e.imr === 3 && e.event === name)?.event_payload;
}
