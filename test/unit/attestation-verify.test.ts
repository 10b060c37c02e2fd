// The attestation verifier against the simulator's attestations (consistent by construction, then tampered one
// field at a time) and against a real Intel-signed TDX quote with its recorded collateral (offline): every
// refusal names the measurement, expected vs actual; an unsigned quote is never reported verified.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseTdQuote, verifyAttestation, verifyQuoteSignature } from '../../src/attestation';
import { type AttestationInput, buildAttestation, runtimeEventDigest } from '../../src/simulator/attestation';

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
const composeHash = createHash('sha256').update(input.appCompose).digest('hex');
const expectations = { composeHash, appId: input.appId, osImages: [input.osImageHash] };

function report(att = buildAttestation(input)) {
  return { tcb_info: att.tcbInfo, app_certificates: att.certificates };
}

const fixture = (name: string) => new URL(`../fixtures/attestation/${name}`, import.meta.url);
const signedQuote = readFileSync(fixture('dcap-qvl-tdx-quote.bin'));
const collateral = JSON.parse(readFileSync(fixture('dcap-qvl-tdx-quote-collateral.json'), 'utf8'));
// Inside the recorded collateral's validity window (see test/fixtures/attestation/README.md).
const collateralTime = new Date('2025-06-20T00:00:00Z');

describe('verifyAttestation on simulated attestations', () => {
  it('accepts a matching attestation and says its quote is unsigned, not verified', async () => {
    const v = await verifyAttestation(report(), expectations);
    expect(v.reason).toBeUndefined();
    expect(v.ok).toBe(true);
    expect(v.quoteVerified).toBe(false);
    expect(v.quoteStatus).toBe('unsigned (not verified)');
    expect(v.composeHash).toBe(composeHash);
    expect(v.registers?.rtmr3).toBe(buildAttestation(input).tcbInfo.rtmr3);
    expect(v.quoteDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(v.checks.map((c) => c.name)).toEqual(
      expect.arrayContaining(['rtmr0-replay', 'rtmr3-replay', 'compose-hash-event', 'app-id-event', 'os-image']),
    );
  });

  it('refuses an unsigned quote when the policy requires a signature', async () => {
    const v = await verifyAttestation(report(), expectations, { quote: 'required' });
    expect(v.ok).toBe(false);
    expect(v.reason).toBe('quote-signature: expected signed, got unsigned (not verified)');
  });

  it('refuses another compose than the one deployed, naming both hashes', async () => {
    const other = 'aa'.repeat(32);
    const v = await verifyAttestation(report(), { ...expectations, composeHash: other });
    expect(v.ok).toBe(false);
    expect(v.reason).toBe(`compose-hash: expected ${other}, got ${composeHash}`);
    expect(v.checks.find((c) => c.name === 'compose-hash-event')).toMatchObject({ ok: false, actual: composeHash });
  });

  it('refuses another app id and an OS image outside the allow-list', async () => {
    const app = await verifyAttestation(report(), { ...expectations, appId: `0x${'12'.repeat(20)}` });
    expect(app.reason).toBe(`app-id-event: expected ${'12'.repeat(20)}, got ${input.appId}`);
    const os = await verifyAttestation(report(), { ...expectations, osImages: ['01'.repeat(32)] });
    expect(os.reason).toBe(`os-image: expected one of [${'01'.repeat(32)}], got ${input.osImageHash}`);
  });

  it('refuses a compose hash the chain does not allow', async () => {
    const v = await verifyAttestation(report(), { ...expectations, allowedComposeHashes: ['bb'.repeat(32)] });
    expect(v.reason).toBe(`compose-hash-on-chain: expected one of [${'bb'.repeat(32)}], got ${composeHash}`);
  });

  it('reports whether the app contract allows the measured compose hash', async () => {
    const allowed = await verifyAttestation(report(), { ...expectations, measuredComposeHashOnChain: true });
    expect(allowed.checks.find((c) => c.name === 'compose-hash-on-chain')).toMatchObject({ ok: true });
    expect(allowed.ok).toBe(true);
    const refused = await verifyAttestation(report(), { ...expectations, measuredComposeHashOnChain: false });
    expect(refused.reason).toBe(
      `compose-hash-on-chain: expected allowed by the app contract, got not allowed: ${composeHash}`,
    );
  });

  it('refuses an event whose payload no longer matches its digest', async () => {
    const att = buildAttestation(input);
    const event = att.tcbInfo.event_log.find((e) => e.event === 'compose-hash')!;
    event.event_payload = 'aa'.repeat(32);
    const v = await verifyAttestation(report(att), { ...expectations, composeHash: 'aa'.repeat(32) });
    expect(v.ok).toBe(false);
    expect(v.reason).toMatch(/^runtime-event-digests: .*event compose-hash digest/);
  });

  it('refuses a log that does not replay to the reported RTMR3', async () => {
    const att = buildAttestation(input);
    const event = att.tcbInfo.event_log.find((e) => e.event === 'compose-hash')!;
    event.event_payload = 'aa'.repeat(32);
    event.digest = runtimeEventDigest('compose-hash', event.event_payload);
    const v = await verifyAttestation(report(att), { ...expectations, composeHash: 'aa'.repeat(32) });
    expect(v.ok).toBe(false);
    expect(v.reason).toMatch(new RegExp(`^rtmr3-replay: expected ${att.tcbInfo.rtmr3}, got [0-9a-f]{96}$`));
  });

  it('refuses a quote whose TD report differs from the TCB info', async () => {
    const att = buildAttestation(input);
    const quote = Buffer.from(att.quote, 'hex');
    quote[48 + 472] = quote[48 + 472]! ^ 1;
    att.certificates[0]!.quote = quote.toString('hex');
    const v = await verifyAttestation(report(att), expectations);
    expect(v.reason).toMatch(/^quote-rtmr3: expected [0-9a-f]{96}, got [0-9a-f]{96}$/);
  });

  it('refuses a missing TCB info and a missing quote when one is required', async () => {
    const none = await verifyAttestation({ tcb_info: null, app_certificates: null }, expectations);
    expect(none.reason).toBe('tcb-info: expected present, got absent');
    const att = buildAttestation(input);
    const noQuote = { tcb_info: att.tcbInfo, app_certificates: [] };
    expect((await verifyAttestation(noQuote, expectations)).ok).toBe(true);
    expect((await verifyAttestation(noQuote, expectations, { quote: 'required' })).reason).toBe(
      'quote: expected present, got absent',
    );
  });
});

describe('quote signatures (a real TDX quote, recorded collateral, no network)', () => {
  const source = async () => collateral;

  it('verifies the Intel-signed quote inside its collateral window', async () => {
    expect(await verifyQuoteSignature(signedQuote, source, collateralTime.getTime() / 1000)).toEqual({
      verified: true,
      tcbStatus: 'UpToDate',
    });
  });

  it('refuses the quote with one report bit flipped, and expired collateral', async () => {
    const tampered = Buffer.from(signedQuote);
    tampered[48 + 520] = tampered[48 + 520]! ^ 1;
    const bad = await verifyQuoteSignature(tampered, source, collateralTime.getTime() / 1000);
    expect(bad.verified).toBe(false);
    expect(bad.error).toMatch(/signature/i);
    const late = await verifyQuoteSignature(signedQuote, source, Date.parse('2026-01-01T00:00:00Z') / 1000);
    expect(late).toMatchObject({ verified: false, error: 'TCBInfo expired' });
  });

  it('reports a verified quote in the verdict, and a signed quote with no collateral source as not verified', async () => {
    const td = parseTdQuote(signedQuote);
    const tcb = { mrtd: td.mrtd, rtmr0: td.rtmr[0], rtmr1: td.rtmr[1], rtmr2: td.rtmr[2], rtmr3: td.rtmr[3] };
    const signed = {
      tcb_info: { ...tcb, event_log: [], app_compose: input.appCompose },
      app_certificates: [{ quote: signedQuote.toString('hex') }],
    };
    const exp = { composeHash, appId: input.appId };
    const v = await verifyAttestation(signed, exp, { quote: 'required', collateral: source, now: collateralTime });
    expect(v.checks.find((c) => c.name === 'quote-signature')).toMatchObject({
      ok: true,
      actual: 'verified (UpToDate)',
    });
    expect(v.quoteVerified).toBe(true);
    // Without an event log there is no compose-hash event: the verdict refuses on it even though the quote verified.
    expect(v.reason).toBe(`compose-hash-event: expected ${composeHash}, got absent`);
    const unsourced = await verifyAttestation(signed, exp, { quote: 'if-present' });
    expect(unsourced.checks.find((c) => c.name === 'quote-signature')).toMatchObject({
      ok: false,
      actual: 'no collateral source configured',
    });
    expect(unsourced.quoteVerified).toBe(false);
  });
});
