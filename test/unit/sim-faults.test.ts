// Fault rules: matching by method, path pattern, API key and CVM; count and probability; profile validation.
import { describe, expect, it } from 'vitest';
import { FaultProfileError, FaultRegistry, parseFaultProfile } from '../../src/simulator/faults';
import type { Cvm } from '../../src/simulator/model';

const cvm = {
  id: 7,
  name: 'target-app',
  appId: 'a'.repeat(40),
  vmUuid: '0b1c2d3e-4f50-4a6b-8c7d-8e9fa0b1c2d3',
  hashid: 'cvm_x',
  instanceId: 'c'.repeat(40),
} as Cvm;
const query = (over: Partial<Parameters<FaultRegistry['fire']>[0]> = {}) => ({
  method: 'POST',
  path: '/cvms/abc/start',
  keyId: 'key_1',
  cvm: undefined,
  ...over,
});

describe('FaultRegistry', () => {
  it('matches method, path pattern (with :params and *), API key and CVM', () => {
    const reg = new FaultRegistry();
    reg.add({
      routes: [
        { id: 'm', method: 'get', path: '/cvms/:id/start', status: 500 },
        { id: 'p', path: '/cvms/*', latencyMs: 5 },
        { id: 'k', path: '*', apiKeyId: 'key_2', status: 429 },
        { id: 'c', path: '/cvms/:id/start', cvm: 'target-app', status: 503, retryAfter: 3 },
      ],
    });
    expect(reg.fire(query()).ids).toEqual(['p']);
    expect(reg.fire(query({ method: 'GET' })).error?.id).toBe('m');
    expect(reg.fire(query({ keyId: 'key_2' })).ids).toEqual(['p', 'k']);
    const targeted = reg.fire(query({ cvm }));
    expect(targeted.error).toMatchObject({ id: 'c', status: 503, retryAfter: 3 });
    expect(targeted.latencyMs).toBe(5);
    expect(reg.fire(query({ path: '/auth/me' })).ids).toEqual([]);
  });

  it('expires a rule after `count` uses and rolls `probability` per request', () => {
    const rolls = [0.1, 0.9, 0.4, 0.6];
    const reg = new FaultRegistry(() => rolls.shift()!);
    reg.add({ routes: [{ id: 'once', path: '*', status: 500, count: 1 }] });
    expect(reg.fire(query()).ids).toEqual(['once']);
    expect(reg.fire(query()).ids).toEqual([]);
    reg.add({ routes: [{ id: 'half', path: '*', status: 503, probability: 0.5 }] });
    expect([0, 1, 2, 3].map(() => reg.fire(query()).ids.length)).toEqual([1, 0, 1, 0]);
  });

  it('accepts the attestation faults and names an unknown one', () => {
    const reg = new FaultRegistry();
    reg.add({ cvms: [{ id: 'a', cvm: 'target-app', attestation: 'non-replaying-log', count: 1 }] });
    expect(reg.cvmFault(cvm, 'attestationDelayMs')).toBeUndefined();
    expect(reg.cvmFault(cvm, 'attestation')?.attestation).toBe('non-replaying-log');
    expect(reg.cvmFault(cvm, 'attestation')).toBeUndefined();
    expect(() => parseFaultProfile({ cvms: [{ cvm: 'x', attestation: 'forged' }] })).toThrow(/cvms\.0\.attestation/);
    reg.add({ cvms: [{ id: 'g', cvm: 'target-*', attestation: 'wrong-compose-hash' }] });
    expect(reg.cvmFault(cvm, 'attestation')?.id).toBe('g');
    expect(reg.cvmFault({ ...cvm, name: 'other-app' } as Cvm, 'attestation')).toBeUndefined();
  });

  it('finds CVM behaviour faults by any identifier and replaces rules with the same id', () => {
    const reg = new FaultRegistry();
    reg.add({ cvms: [{ id: 'x', cvm: `app_${'a'.repeat(40)}`, crashAfterMs: 10 }] });
    expect(reg.cvmFault(cvm, 'crashAfterMs')?.id).toBe('x');
    expect(reg.cvmFault(cvm, 'neverReachTarget')).toBeUndefined();
    reg.add({ cvms: [{ id: 'x', cvm: 'other-app', crashAfterMs: 10 }] });
    expect(reg.list().cvms).toHaveLength(1);
    expect(reg.cvmFault(cvm, 'crashAfterMs')).toBeUndefined();
  });

  it('rejects invalid profiles naming the field', () => {
    expect(() => parseFaultProfile({ routes: [{ path: '/x', status: 200 }] })).toThrow(/routes\.0\.status/);
    expect(() => parseFaultProfile({ cvms: [{ cvm: 'a', crash: 1 }] })).toThrow(FaultProfileError);
  });
});
