// The compose hash is the key into the provision cache and what on-chain allowlists hold: it must be the
// @phala/dstack-sdk hash of the normalised app-compose, independent of key order, sensitive to every field.
import { getComposeHash } from '@phala/cloud';
import { describe, expect, it } from 'vitest';
import { canonicalJson, composeHash, normaliseAppCompose } from '../../src/simulator/compose';

const COMPOSE = 'services:\n  web:\n    image: nginx\n';

describe('normaliseAppCompose', () => {
  it('fills the server defaults and the name, maps tproxy_enabled, drops request-only keys and empty scripts', () => {
    const c = normaliseAppCompose(
      {
        docker_compose_file: COMPOSE,
        name: '',
        tproxy_enabled: false,
        pre_launch_script: '',
        update_env_vars: true,
        salt: 's1',
      },
      'my-app',
    );
    expect(c).toEqual({
      docker_compose_file: COMPOSE,
      name: 'my-app',
      gateway_enabled: false,
      salt: 's1',
      manifest_version: 2,
      runner: 'docker-compose',
      features: ['kms', 'tproxy-net'],
      kms_enabled: true,
      public_logs: true,
      public_sysinfo: true,
      public_tcbinfo: true,
      local_key_provider_enabled: false,
      no_instance_id: false,
      secure_time: false,
      storage_fs: 'zfs',
      allowed_envs: [],
    });
  });

  it('keeps the caller’s explicit values over the defaults', () => {
    const c = normaliseAppCompose(
      { docker_compose_file: COMPOSE, public_logs: false, storage_fs: 'ext4', name: 'x1234' },
      'y',
    );
    expect(c).toMatchObject({ public_logs: false, storage_fs: 'ext4', name: 'x1234' });
  });
});

describe('composeHash', () => {
  it('is sha256 of recursively key-sorted compact JSON (NaN/Infinity as null)', () => {
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: Number.NaN, e: Number.POSITIVE_INFINITY } })).toBe(
      '{"a":{"c":null,"d":[{"y":2,"z":1}],"e":null},"b":1}',
    );
  });

  it('equals the official getComposeHash of the normalised compose', () => {
    const c = normaliseAppCompose(
      { docker_compose_file: COMPOSE, allowed_envs: ['B', 'A'], pre_launch_script: 'echo hi' },
      'app-one',
    );
    expect(composeHash(c)).toBe(getComposeHash(c));
    expect(composeHash(c)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('does not depend on key order but changes with any field', () => {
    const a = normaliseAppCompose({ docker_compose_file: COMPOSE, allowed_envs: ['FOO'] }, 'app-one');
    const reordered = Object.fromEntries(Object.entries(a).reverse()) as typeof a;
    expect(composeHash(reordered)).toBe(composeHash(a));
    expect(composeHash({ ...a, allowed_envs: ['FOO', 'BAR'] })).not.toBe(composeHash(a));
    expect(composeHash({ ...a, name: 'app-two' })).not.toBe(composeHash(a));
  });
});
