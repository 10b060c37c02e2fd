import { describe, expect, it } from 'vitest';
import { PhalaUsageError } from '../../src/phala/errors';
import {
  type CvmIdentifier,
  identifiesCvm,
  isValidCvmName,
  normalizeAppId,
  resolveCvmId,
  sameAppId,
} from '../../src/phala/ids';

const UUID_DASHED = '0b1c2d3e-4f50-4a6b-8c7d-8e9fa0b1c2d3';
const UUID_BARE = '0b1c2d3e4f504a6b8c7d8e9fa0b1c2d3';
const HEX40 = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';

function usageError(fn: () => unknown): PhalaUsageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PhalaUsageError);
    return err as PhalaUsageError;
  }
  throw new Error('expected a PhalaUsageError');
}

describe('resolveCvmId (reference §2)', () => {
  it.each<[CvmIdentifier, string]>([
    [UUID_DASHED, UUID_BARE],
    [UUID_BARE, UUID_BARE],
    [UUID_DASHED.toUpperCase(), UUID_BARE.toUpperCase()],
    [HEX40, `app_${HEX40}`],
    [HEX40.toUpperCase(), `app_${HEX40.toUpperCase()}`],
    [`app_${HEX40}`, `app_${HEX40}`],
    [`0x${HEX40}`, `0x${HEX40}`],
    [`instance_${HEX40}`, `instance_${HEX40}`],
    ['cvm_Ab3xY9', 'cvm_Ab3xY9'],
    ['1234', '1234'],
    ['my-app-1', 'my-app-1'],
    // a UUID that is not version 4 is not de-dashed, like the SDK
    ['0b1c2d3e-4f50-1a6b-8c7d-8e9fa0b1c2d3', '0b1c2d3e-4f50-1a6b-8c7d-8e9fa0b1c2d3'],
    [{ id: UUID_DASHED }, UUID_BARE],
    [{ uuid: UUID_DASHED }, UUID_BARE],
    [{ app_id: HEX40 }, `app_${HEX40}`],
    // the SDK's quirk: a 40-hex instance_id also gets the app_ prefix
    [{ instance_id: HEX40 }, `app_${HEX40}`],
    [{ name: 'my-app-1' }, 'my-app-1'],
    // a name that looks like an app id stays a name
    [{ name: `a${HEX40.slice(1)}` }, `a${HEX40.slice(1)}`],
    // first non-empty field wins, in the order id, uuid, app_id, instance_id, name
    [{ id: '', uuid: UUID_DASHED, app_id: HEX40 }, UUID_BARE],
    [{ app_id: HEX40, name: 'my-app-1' }, `app_${HEX40}`],
  ])('%j → %s', (input, expected) => {
    expect(resolveCvmId(input)).toBe(expected);
  });

  it('rejects an empty identifier, naming what to pass', () => {
    expect(usageError(() => resolveCvmId('')).message).toMatch(/identifier is empty/);
    expect(usageError(() => resolveCvmId('   ')).field).toBe('id');
    const err = usageError(() => resolveCvmId({ id: '', name: undefined }));
    expect(err.code).toBe('PHALA_INVALID_ARGUMENT');
    expect(err.message).toContain('id, uuid, app_id, instance_id, name');
  });

  it('rejects a uuid field that is not a UUID and an invalid name', () => {
    expect(usageError(() => resolveCvmId({ uuid: 'not-a-uuid' })).field).toBe('uuid');
    for (const name of ['abc', '1starts-with-digit', 'double--hyphen', 'ends-with-', 'x'.repeat(64)]) {
      expect(usageError(() => resolveCvmId({ name })).field).toBe('name');
    }
  });
});

describe('app ids', () => {
  it('normalises app_, 0x and case to 40 lowercase hex', () => {
    for (const form of [HEX40, HEX40.toUpperCase(), `app_${HEX40}`, `0x${HEX40}`, `0X${HEX40.toUpperCase()}`]) {
      expect(normalizeAppId(form)).toBe(HEX40);
    }
    expect(sameAppId(`app_${HEX40}`, `0x${HEX40.toUpperCase()}`)).toBe(true);
    expect(sameAppId(HEX40, `${HEX40.slice(0, 39)}0`)).toBe(false);
  });

  it('rejects what is not an app id', () => {
    for (const bad of ['', 'app_', `${HEX40}00`, `0x${HEX40.slice(2)}`, `cvm_${HEX40}`]) {
      expect(usageError(() => normalizeAppId(bad)).field).toBe('appId');
    }
  });

  it('checks CVM names like the API', () => {
    expect(isValidCvmName('web-1')).toBe(true);
    expect(isValidCvmName('web')).toBe(false);
  });
});

describe('identifiesCvm: every form a target may name a CVM by', () => {
  const cvm = { vm_uuid: '0a1b2c3d-0000-4000-8000-000000000001', id: 'cvm-42', instance_id: 'ABCDEF0123' };
  it.each([
    ['vm_uuid with dashes', '0a1b2c3d-0000-4000-8000-000000000001', true],
    ['vm_uuid without dashes, upper case', '0A1B2C3D000040008000000000000001', true],
    ['id, any case', 'CVM-42', true],
    ['instance id', 'abcdef0123', true],
    ['another CVM', '0a1b2c3d-0000-4000-8000-000000000002', false],
    ['a prefix of the uuid', '0a1b2c3d', false],
  ])('%s', (_what, target, expected) => {
    expect(identifiesCvm(target, cvm)).toBe(expected);
  });
});
