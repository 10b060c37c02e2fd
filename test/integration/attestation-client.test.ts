// Conformance of the attestation route: PhalaClient.getAttestation reads the simulator's answer over HTTP in the
// SDK's shape, and the verifier accepts it against the compose hash and app id the provision answered — the
// simulator's attestation is consistent with the CVM's real compose, image and identity. Offline: null parts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAttestation } from '../../src/attestation';
import { PhalaClient } from '../../src/phala/client';
import { waitForCvmState } from '../../src/phala/watch';
import { FAST_DELAYS, type SimulatorHandle, startSimulator } from '../../src/simulator';

const API_KEY = 'phak_sim_attest_0123456789';
let sim: SimulatorHandle;
let phala: PhalaClient;

beforeAll(async () => {
  sim = await startSimulator({ port: 0, apiKeys: [API_KEY], timeScale: 0.002, delays: FAST_DELAYS });
  phala = new PhalaClient({ baseURL: sim.url, apiKey: API_KEY });
});

afterAll(async () => {
  await phala?.close();
  await sim?.close();
});

const watch = (target: string) => ({ target, interval: 5, timeout: 60, retryDelay: 20, maxRetries: 3 });

describe('GET /cvms/{id}/attestation through PhalaClient', () => {
  it('verifies a running CVM against what was deployed, and has no TCB info while it is stopped', async () => {
    const provision = await phala.provisionCvm({
      name: 'attest-client',
      compose_file: { docker_compose_file: 'services:\n  app:\n    image: nginx:latest\n' },
      kms: 'PHALA',
    });
    const created = await phala.commitCvmProvision({ app_id: provision.app_id!, compose_hash: provision.compose_hash });
    const cvmId = created.vm_uuid as string;
    await waitForCvmState(phala, cvmId, watch('running'));
    const detail = await phala.getCvm(cvmId);

    const att = await phala.getAttestation(cvmId);
    expect(att).toMatchObject({ name: 'attest-client', is_online: true, error: null });
    const osImage = att.tcb_info?.event_log.find((e) => e.event === 'os-image-hash')?.event_payload;
    const verdict = await verifyAttestation(att, {
      composeHash: provision.compose_hash,
      appId: provision.app_id!,
      osImages: [osImage!],
    });
    expect(verdict.reason).toBeUndefined();
    expect(verdict).toMatchObject({ ok: true, composeHash: detail.compose_hash, quoteVerified: false });
    expect(verdict.quoteStatus).toBe('unsigned (not verified)');

    await phala.stopCvm(cvmId);
    await waitForCvmState(phala, cvmId, watch('stopped'));
    const offline = await phala.getAttestation(cvmId);
    expect(offline).toMatchObject({ is_online: false, tcb_info: null, app_certificates: null });
    const refused = await verifyAttestation(offline, { composeHash: provision.compose_hash, appId: provision.app_id! });
    expect(refused.reason).toBe('tcb-info: expected present, got absent');
  });

  it('serves each injected attestation fault, and the verifier names the measurement that differs', async () => {
    const provision = await phala.provisionCvm({
      name: 'attest-faults',
      compose_file: { docker_compose_file: 'services:\n  app:\n    image: nginx:latest\n' },
      kms: 'PHALA',
    });
    const created = await phala.commitCvmProvision({ app_id: provision.app_id!, compose_hash: provision.compose_hash });
    const cvmId = created.vm_uuid as string;
    await waitForCvmState(phala, cvmId, watch('running'));
    const detail = await phala.getCvm(cvmId);
    const expectations = {
      composeHash: provision.compose_hash,
      appId: provision.app_id!,
      osImages: [detail.os!.os_image_hash!],
    };
    const verdictUnder = async (fault: Record<string, unknown>) => {
      const res = await fetch(`${sim.adminUrl}/admin/faults`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sim.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ cvms: [{ id: 'attest', cvm: 'attest-faults', ...fault }] }),
      });
      expect(res.status).toBe(201);
      try {
        return await verifyAttestation(await phala.getAttestation(cvmId), expectations);
      } finally {
        sim.removeFault('attest');
      }
    };
    expect((await verdictUnder({ attestation: 'wrong-compose-hash' })).reason).toMatch(
      new RegExp(`^compose-hash: expected ${provision.compose_hash}, got (?!${provision.compose_hash})[0-9a-f]{64}$`),
    );
    expect((await verdictUnder({ attestation: 'non-replaying-log' })).reason).toMatch(
      /^rtmr3-replay: expected [0-9a-f]{96}, got [0-9a-f]{96}$/,
    );
    expect((await verdictUnder({ attestation: 'unapproved-os-image' })).reason).toMatch(
      new RegExp(`^os-image: expected one of \\[${detail.os!.os_image_hash}\\], got [0-9a-f]{64}$`),
    );
    // Not available for a (simulated) day after boot: 409, then the clean attestation once the fault is gone.
    sim.addFaults({ cvms: [{ id: 'late', cvm: 'attest-faults', attestationDelayMs: 86_400_000 }] });
    await expect(phala.getAttestation(cvmId)).rejects.toMatchObject({ status: 409 });
    sim.removeFault('late');
    expect((await verifyAttestation(await phala.getAttestation(cvmId), expectations)).ok).toBe(true);
  });
});
