// `{cvm_id}` resolution from every identifier form clients send (reference §2), and the ambiguity errors.
import { describe, expect, it } from 'vitest';
import { HttpError } from '../../src/simulator/http/errors';
import type { Cvm } from '../../src/simulator/model';
import { classifyIdentifier, identifies, resolveCvm } from '../../src/simulator/resolve';

const APP = `${'a'.repeat(38)}01`;
const OTHER_APP = 'b'.repeat(40);

function cvm(id: number, over: Partial<Cvm>): Cvm {
  return {
    id,
    hashid: `cvm_h${id}`,
    name: `name-${id}`,
    appId: OTHER_APP,
    vmUuid: `0b1c2d3e-4f50-4a6b-8c7d-8e9fa0b1c${String(id).padStart(3, '0')}`,
    instanceId: String(id).padStart(40, 'c'),
    ...over,
  } as Cvm;
}

const one = cvm(1, { appId: APP, name: 'alpha-app' });
const two = cvm(2, { name: 'beta-app' });
const fleet = [one, two];

describe('resolveCvm', () => {
  it.each([
    ['dashed vm_uuid', one.vmUuid],
    ['dashless vm_uuid (what the TS SDK sends)', one.vmUuid.replace(/-/g, '')],
    ['upper-case vm_uuid', one.vmUuid.toUpperCase()],
    ['app_<40hex>', `app_${APP}`],
    ['bare 40-hex app id', APP],
    ['0x-prefixed, checksum-cased app id', `0x${APP.toUpperCase()}`],
    ['instance_<40hex>', `instance_${one.instanceId}`],
    ['app_<instance id> (the SDK prefixes a 40-hex instance id with app_)', `app_${one.instanceId}`],
    ['cvm_ hashid', 'cvm_h1'],
    ['legacy integer id', '1'],
    ['name', 'alpha-app'],
  ])('resolves a %s', (_label, ident) => {
    expect(resolveCvm(fleet, ident)).toBe(one);
  });

  it('answers undefined for an unknown identifier', () => {
    expect(resolveCvm(fleet, 'no-such-cvm')).toBeUndefined();
    expect(resolveCvm(fleet, '9'.repeat(40))).toBeUndefined();
  });

  it('rejects an app id shared by replicas with ERR-03-010 and a shared name with ERR-03-002', () => {
    const replica = cvm(3, { appId: APP, name: 'alpha-app' });
    const namesake = cvm(4, { name: 'beta-app' });
    const codeOf = (ident: string, cvms: Cvm[]) => {
      try {
        resolveCvm(cvms, ident);
      } catch (err) {
        expect(err).toBeInstanceOf(HttpError);
        return [(err as HttpError).status, (err as HttpError & { body: { error_code: string } }).body.error_code];
      }
      return undefined;
    };
    expect(codeOf(`app_${APP}`, [one, replica])).toEqual([400, 'ERR-03-010']);
    expect(codeOf('beta-app', [two, namesake])).toEqual([400, 'ERR-03-002']);
    expect(resolveCvm([one, replica], replica.vmUuid)).toBe(replica);
  });
});

describe('classifyIdentifier / identifies', () => {
  it('classifies each form', () => {
    expect(classifyIdentifier(`0x${APP}`)).toEqual({ kind: 'app', value: APP });
    expect(classifyIdentifier('42')).toEqual({ kind: 'int', value: 42 });
    expect(classifyIdentifier('cvm_abc')).toEqual({ kind: 'hashid', value: 'cvm_abc' });
    expect(classifyIdentifier('my-app')).toEqual({ kind: 'name', value: 'my-app' });
  });

  it('tells whether an identifier names a CVM', () => {
    expect(identifies('alpha-app', one)).toBe(true);
    expect(identifies('beta-app', one)).toBe(false);
  });
});
