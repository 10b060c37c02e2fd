// The attestation a simulated CVM reports, built from its real state so a verifier can check it end to end: the
// TCB info's app_compose is the exact string whose sha256 is the CVM's compose_hash, the `compose-hash` runtime
// event carries that hash, and every RTMR is the dstack replay of its part of the event log (rtmr = sha384(rtmr ‖
// digest) from 48 zero bytes; a runtime event's digest is sha384(le32(event_type) ‖ ":" ‖ name ‖ ":" ‖ payload), as
// in dstack's cc-eventlog; names and order as dstack 0.5.9 boots with a KMS). Boot events (IMR 0–2) stand for
// firmware measurements: their digest is the sha384 of their payload. The TDX quote has the real v4 layout (header
// with the node's user_data, whose sha256 is its device id; TD report body carrying mrtd and rtmr0–3; report data)
// with an empty signature: nothing here is signed by Intel, and a verifier must say so rather than pass it.
import { createHash } from 'node:crypto';
import type { EventLogEntry, TcbInfo } from '../phala/schemas';

/** dstack's event type for runtime (RTMR3) events; not a TCG-defined code. */
export const DSTACK_RUNTIME_EVENT_TYPE = 0x08000001;
const EV_EFI_PLATFORM_FIRMWARE_BLOB2 = 0x8000000a;
const EV_EFI_BOOT_SERVICES_APPLICATION = 0x80000003;
const EV_EVENT_TAG = 0x00000006;
const EV_SEPARATOR = 0x00000004;

export const INIT_MR = '00'.repeat(48);

export type { EventLogEntry, TcbInfo };

export interface AppCertificate {
  subject: {
    common_name: string | null;
    organization: string | null;
    country: string | null;
    state: string | null;
    locality: string | null;
  };
  issuer: { common_name: string | null; organization: string | null; country: string | null };
  serial_number: string;
  not_before: string;
  not_after: string;
  version: string;
  fingerprint: string;
  signature_algorithm: string;
  sans: string[] | null;
  is_ca: boolean;
  position_in_chain: number | null;
  quote: string | null;
  app_id?: string | null;
  cert_usage?: string | null;
}

/** What a CVM's measurements depend on. */
export interface AttestationInput {
  appId: string;
  instanceId: string;
  /** The canonical app-compose JSON, byte for byte what the CVM measured. */
  appCompose: string;
  osImageHash: string;
  vcpu: number;
  memoryMb: number;
  /** The root CA key (SPKI hex) of the KMS the CVM got its keys from: the `key-provider` event names it. */
  keyProviderId: string;
  /** The KMS instance's own aggregated measurement (32 bytes hex), extended as `mr-kms` after verifying it. */
  kmsMeasurement: string;
  /** The node's 20-byte quote header user_data (hex); dstack's device_id is its sha256. */
  quoteUserData: string;
  storageFs: string;
  /** The app's gateway host (certificate SANs). */
  gatewayDomain: string;
  /** When the CVM last booted: the certificates are issued then. */
  bootedAt: Date;
}

export interface Attestation {
  tcbInfo: TcbInfo;
  quote: string;
  certificates: AppCertificate[];
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest();
const sha384 = (data: Buffer | string) => createHash('sha384').update(data).digest();
const sha512 = (data: Buffer | string) => createHash('sha512').update(data).digest();

function le32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

/** sha384(le32(event_type) ‖ ":" ‖ name ‖ ":" ‖ payload), hex. */
export function runtimeEventDigest(name: string, payloadHex: string, eventType = DSTACK_RUNTIME_EVENT_TYPE): string {
  return sha384(
    Buffer.concat([le32(eventType), Buffer.from(`:${name}:`, 'utf8'), Buffer.from(payloadHex, 'hex')]),
  ).toString('hex');
}

/** Extends 48 zero bytes with each digest in turn (short digests are zero-padded to 48 bytes, as dstack does). */
export function replayRtmr(digests: readonly string[]): string {
  let mr = Buffer.from(INIT_MR, 'hex');
  for (const d of digests) {
    const content = Buffer.alloc(48);
    Buffer.from(d, 'hex').copy(content);
    mr = sha384(Buffer.concat([mr, content]));
  }
  return mr.toString('hex');
}

/** The RTMR an event log replays to for one IMR. */
export function replayImr(events: readonly EventLogEntry[], imr: number): string {
  return replayRtmr(events.filter((e) => e.imr === imr).map((e) => e.digest));
}

function bootEvent(imr: number, eventType: number, payload: string): EventLogEntry {
  const bytes = Buffer.from(payload, 'utf8');
  return {
    imr,
    event_type: eventType,
    digest: sha384(bytes).toString('hex'),
    event: '',
    event_payload: bytes.toString('hex'),
  };
}

function runtimeEvent(name: string, payload: Buffer): EventLogEntry {
  const payloadHex = payload.toString('hex');
  return {
    imr: 3,
    event_type: DSTACK_RUNTIME_EVENT_TYPE,
    digest: runtimeEventDigest(name, payloadHex),
    event: name,
    event_payload: payloadHex,
  };
}

/**
 * The event log in the order a dstack CVM boots: firmware and VM configuration (IMR 0: vCPUs and memory, so a
 * resize changes rtmr0), kernel (IMR 1), command line and initrd (IMR 2), then the runtime events of the guest.
 */
export function buildEventLog(input: AttestationInput): EventLogEntry[] {
  const composeHash = sha256(input.appCompose);
  const image = input.osImageHash;
  const noInstanceId = JSON.parse(input.appCompose).no_instance_id === true;
  return [
    bootEvent(0, EV_EFI_PLATFORM_FIRMWARE_BLOB2, `td-hob:vcpus=${input.vcpu};memory_mb=${input.memoryMb}`),
    bootEvent(0, EV_EVENT_TAG, `acpi-tables:${image}:vcpus=${input.vcpu}`),
    bootEvent(0, EV_SEPARATOR, 'separator'),
    bootEvent(1, EV_EFI_BOOT_SERVICES_APPLICATION, `kernel:${image}`),
    bootEvent(1, EV_SEPARATOR, 'separator'),
    bootEvent(2, EV_EVENT_TAG, `cmdline:console=ttyS0 dstack.rootfs_hash=${rootfsHash(image)}`),
    bootEvent(2, EV_EVENT_TAG, `initrd:${image}`),
    runtimeEvent('system-preparing', Buffer.alloc(0)),
    runtimeEvent('app-id', Buffer.from(input.appId, 'hex')),
    runtimeEvent('compose-hash', composeHash),
    runtimeEvent('instance-id', noInstanceId ? Buffer.alloc(0) : Buffer.from(input.instanceId, 'hex')),
    runtimeEvent('boot-mr-done', Buffer.alloc(0)),
    runtimeEvent('mr-kms', Buffer.from(input.kmsMeasurement, 'hex')),
    runtimeEvent('os-image-hash', Buffer.from(image, 'hex')),
    runtimeEvent('key-provider', Buffer.from(JSON.stringify({ name: 'kms', id: input.keyProviderId }), 'utf8')),
    runtimeEvent('storage-fs', Buffer.from(input.storageFs, 'utf8')),
    runtimeEvent('system-ready', Buffer.alloc(0)),
  ];
}

const rootfsHash = (osImageHash: string) => sha256(`rootfs:${osImageHash}`).toString('hex');

/** MRTD measures the TD's initial memory (the firmware): one value per OS image. */
export const mrtdOf = (osImageHash: string): string => sha384(`mrtd:${osImageHash}`).toString('hex');

export function buildTcbInfo(input: AttestationInput): TcbInfo {
  const eventLog = buildEventLog(input);
  return {
    mrtd: mrtdOf(input.osImageHash),
    rootfs_hash: rootfsHash(input.osImageHash),
    rtmr0: replayImr(eventLog, 0),
    rtmr1: replayImr(eventLog, 1),
    rtmr2: replayImr(eventLog, 2),
    rtmr3: replayImr(eventLog, 3),
    event_log: eventLog,
    app_compose: input.appCompose,
  };
}

/** Byte offsets of the TDX quote v4: 48-byte header (user_data at 28), then the 584-byte TD report body. */
export const QUOTE_LAYOUT = {
  headerSize: 48,
  userData: 28,
  bodySize: 584,
  mrtd: 48 + 136,
  rtmr0: 48 + 328,
  rtmr1: 48 + 376,
  rtmr2: 48 + 424,
  rtmr3: 48 + 472,
  reportData: 48 + 520,
} as const;

/** A TDX quote v4 (ECDSA-256 attestation key, TEE type TDX) carrying the measurements; its signature is empty. */
export function buildQuote(
  tcb: Pick<TcbInfo, 'mrtd' | 'rtmr0' | 'rtmr1' | 'rtmr2' | 'rtmr3'>,
  reportData: Buffer,
  userData: string,
): string {
  const L = QUOTE_LAYOUT;
  const quote = Buffer.alloc(L.headerSize + L.bodySize + 4);
  quote.writeUInt16LE(4, 0);
  quote.writeUInt16LE(2, 2);
  quote.writeUInt32LE(0x81, 4);
  Buffer.from(userData, 'hex').copy(quote, L.userData, 0, 20);
  const put = (offset: number, hex: string) => Buffer.from(hex, 'hex').copy(quote, offset);
  put(L.mrtd, tcb.mrtd);
  put(L.rtmr0, tcb.rtmr0);
  put(L.rtmr1, tcb.rtmr1);
  put(L.rtmr2, tcb.rtmr2);
  put(L.rtmr3, tcb.rtmr3);
  reportData.copy(quote, L.reportData, 0, 64);
  return quote.toString('hex');
}

/** Reads the measurements back out of a quote built by buildQuote (or any TDX v4 quote). */
export function parseQuote(hex: string): {
  userData: string;
  mrtd: string;
  rtmr: [string, string, string, string];
  reportData: string;
} {
  const q = Buffer.from(hex, 'hex');
  const L = QUOTE_LAYOUT;
  if (q.length < L.headerSize + L.bodySize || q.readUInt16LE(0) !== 4 || q.readUInt32LE(4) !== 0x81) {
    throw new Error('not a TDX v4 quote');
  }
  const at = (o: number, n = 48) => q.subarray(o, o + n).toString('hex');
  return {
    userData: at(L.userData, 20),
    mrtd: at(L.mrtd),
    rtmr: [at(L.rtmr0), at(L.rtmr1), at(L.rtmr2), at(L.rtmr3)],
    reportData: at(L.reportData, 64),
  };
}

/**
 * The RA-TLS chain the CVM's guest agent presents: the app certificate (leaf, carries the quote) issued by the app
 * CA. The quote binds the leaf: report_data = sha512("app-cert:" ‖ leaf fingerprint) (a simulator rule; no DER is
 * served, so the fingerprint stands for the key).
 */
export function buildAttestation(input: AttestationInput): Attestation {
  const tcbInfo = buildTcbInfo(input);
  const notBefore = input.bootedAt;
  const notAfter = new Date(notBefore.getTime() + 365 * 24 * 3600 * 1000);
  const leafFingerprint = sha256(`app-cert:${input.appId}:${input.instanceId}:${notBefore.toISOString()}`).toString(
    'hex',
  );
  const quote = buildQuote(tcbInfo, sha512(`app-cert:${leafFingerprint}`), input.quoteUserData);
  const caFingerprint = sha256(`app-ca:${input.appId}`).toString('hex');
  const subject = (cn: string) => ({
    common_name: cn,
    organization: 'Dstack',
    country: null,
    state: null,
    locality: null,
  });
  const leaf: AppCertificate = {
    subject: subject(`${input.appId}.${input.gatewayDomain}`),
    issuer: { common_name: 'Dstack App CA', organization: 'Dstack', country: null },
    serial_number: leafFingerprint.slice(0, 32),
    not_before: notBefore.toISOString(),
    not_after: notAfter.toISOString(),
    version: 'v3',
    fingerprint: leafFingerprint,
    signature_algorithm: 'ecdsa-with-SHA256',
    sans: [`${input.appId}.${input.gatewayDomain}`, `*.${input.appId}.${input.gatewayDomain}`],
    is_ca: false,
    position_in_chain: 0,
    quote,
    app_id: input.appId,
    cert_usage: 'ra-tls',
  };
  const ca: AppCertificate = {
    subject: subject('Dstack App CA'),
    issuer: { common_name: 'Dstack KMS CA', organization: 'Dstack', country: null },
    serial_number: caFingerprint.slice(0, 32),
    not_before: notBefore.toISOString(),
    not_after: notAfter.toISOString(),
    version: 'v3',
    fingerprint: caFingerprint,
    signature_algorithm: 'ecdsa-with-SHA256',
    sans: null,
    is_ca: true,
    position_in_chain: 1,
    quote: null,
    app_id: input.appId,
    cert_usage: 'app-ca',
  };
  return { tcbInfo, quote, certificates: [leaf, ca] };
}
