// The simulator's attestation builder: the event log replays to the RTMRs by dstack's rule, the compose-hash event
// is the sha256 of the measured app-compose, the quote carries the same measurements, and each input moves only the
// registers it should (a resize moves rtmr0, a compose change rtmr3).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type AttestationInput,
  buildAttestation,
  DSTACK_RUNTIME_EVENT_TYPE,
  parseQuote,
  replayImr,
  replayRtmr,
  runtimeEventDigest,
} from '../../src/simulator/attestation';

const input: AttestationInput = {
  appId: 'ab'.repeat(20),
  instanceId: 'cd'.repeat(20),
  appCompose: JSON.stringify({ docker_compose_file: 'services: {}', name: 'x', runner: 'docker-compose' }),
  osImageHash: 'ef'.repeat(32),
  vcpu: 2,
  memoryMb: 4096,
  keyProviderId: '3059'.padEnd(182, 'a'),
  kmsMeasurement: '77'.repeat(32),
  quoteUserData: '88'.repeat(20),
  storageFs: 'zfs',
  gatewayDomain: 'node.example.invalid',
  bootedAt: new Date('2026-01-01T00:00:00Z'),
};

describe('simulated attestation', () => {
  it('digests runtime events as sha384(le32 type : name : payload)', () => {
    const manual = createHash('sha384')
      .update(
        Buffer.concat([Buffer.from([0x01, 0x00, 0x00, 0x08]), Buffer.from(':app-id:'), Buffer.from('0a0b', 'hex')]),
      )
      .digest('hex');
    expect(runtimeEventDigest('app-id', '0a0b')).toBe(manual);
    expect(DSTACK_RUNTIME_EVENT_TYPE).toBe(0x08000001);
  });

  it('replays from 48 zero bytes', () => {
    expect(replayRtmr([])).toBe('00'.repeat(48));
    const d = '11'.repeat(48);
    const once = createHash('sha384')
      .update(Buffer.concat([Buffer.alloc(48), Buffer.from(d, 'hex')]))
      .digest('hex');
    expect(replayRtmr([d])).toBe(once);
  });

  it('is internally consistent', () => {
    const { tcbInfo, quote, certificates } = buildAttestation(input);
    const hash = createHash('sha256').update(tcbInfo.app_compose).digest('hex');
    expect(tcbInfo.event_log.find((e) => e.event === 'compose-hash')?.event_payload).toBe(hash);
    for (const imr of [0, 1, 2, 3]) {
      expect(replayImr(tcbInfo.event_log, imr)).toBe(tcbInfo[`rtmr${imr}` as 'rtmr0']);
    }
    for (const e of tcbInfo.event_log.filter((x) => x.imr === 3)) {
      expect(e.digest).toBe(runtimeEventDigest(e.event, e.event_payload));
    }
    const parsed = parseQuote(quote);
    expect(parsed.userData).toBe(input.quoteUserData);
    expect(parsed.mrtd).toBe(tcbInfo.mrtd);
    expect(tcbInfo.event_log.filter((e) => e.imr === 3).map((e) => e.event)).toEqual([
      'system-preparing',
      'app-id',
      'compose-hash',
      'instance-id',
      'boot-mr-done',
      'mr-kms',
      'os-image-hash',
      'key-provider',
      'storage-fs',
      'system-ready',
    ]);
    expect(parsed.rtmr).toEqual([tcbInfo.rtmr0, tcbInfo.rtmr1, tcbInfo.rtmr2, tcbInfo.rtmr3]);
    expect(certificates[0]).toMatchObject({ position_in_chain: 0, quote, is_ca: false });
    expect(parsed.reportData).toBe(
      createHash('sha512').update(`app-cert:${certificates[0]!.fingerprint}`).digest('hex'),
    );
  });

  it('moves only the registers an input feeds', () => {
    const base = buildAttestation(input).tcbInfo;
    const resized = buildAttestation({ ...input, vcpu: 4 }).tcbInfo;
    expect(resized.rtmr0).not.toBe(base.rtmr0);
    expect([resized.rtmr1, resized.rtmr2, resized.rtmr3, resized.mrtd]).toEqual([
      base.rtmr1,
      base.rtmr2,
      base.rtmr3,
      base.mrtd,
    ]);
    const recomposed = buildAttestation({ ...input, appCompose: input.appCompose.replace('x', 'y') }).tcbInfo;
    expect(recomposed.rtmr3).not.toBe(base.rtmr3);
    expect(recomposed.rtmr0).toBe(base.rtmr0);
    const upgraded = buildAttestation({ ...input, osImageHash: '12'.repeat(32) }).tcbInfo;
    expect(upgraded.mrtd).not.toBe(base.mrtd);
  });
});
