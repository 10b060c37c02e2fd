// `attestation:` in Deployment, BlueGreen and Rollout specs: defaults, normalised OS image hashes, and errors that
// name the field.
import { describe, expect, it } from 'vitest';
import { SpecError, validateSpec } from '../../src/spec';

const COMPOSE = 'services:\n  web:\n    image: nginx:1.27-alpine\n';
const ctx = { source: 'spec.yaml', baseDir: '/tmp' };
const deployment = { apiVersion: 'cvmflow/v1', kind: 'Deployment', name: 'web-app', compose: { inline: COMPOSE } };
const rollout = {
  apiVersion: 'cvmflow/v1',
  kind: 'Rollout',
  name: 'web-rollout',
  targets: { apps: ['web-app'] },
  version: { compose: { inline: COMPOSE } },
};
const bluegreen = {
  ...deployment,
  kind: 'BlueGreen',
  router: { type: 'local', controlUrl: 'http://127.0.0.1:9', secretFromEnv: 'CVMFLOW_ROUTER_SECRET_TEST' },
};
const IMAGE = 'AB'.repeat(32);

function problems(spec: unknown): string[] {
  try {
    validateSpec(spec, ctx);
  } catch (err) {
    expect(err).toBeInstanceOf(SpecError);
    return (err as SpecError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  throw new Error('expected a SpecError');
}

describe('attestation in specs', () => {
  it('defaults to require: true, quote if-present, a 2 minute timeout, on every kind that deploys', () => {
    for (const base of [deployment, rollout, bluegreen]) {
      const spec = validateSpec({ ...base, attestation: {} }, ctx) as { attestation?: unknown };
      expect(spec.attestation, base.kind).toEqual({ require: true, quote: 'if-present', timeoutMs: 120_000 });
    }
    expect((validateSpec(deployment, ctx) as { attestation?: unknown }).attestation).toBeUndefined();
  });

  it('normalises OS image hashes and reads the timeout', () => {
    const spec = validateSpec(
      { ...deployment, attestation: { osImages: [`0x${IMAGE}`], quote: 'required', timeout: '5m' } },
      ctx,
    ) as { attestation?: unknown };
    expect(spec.attestation).toEqual({
      require: true,
      osImages: [IMAGE.toLowerCase()],
      quote: 'required',
      timeoutMs: 300_000,
    });
  });

  it('names the field of each problem', () => {
    expect(problems({ ...deployment, attestation: { quote: 'always' } })).toEqual([
      'attestation.quote: expected one of required, if-present, ignore, got "always"',
    ]);
    expect(problems({ ...rollout, attestation: { osImages: ['dstack-0.5.7'] } })).toEqual([
      'attestation.osImages[0]: expected an OS image hash: 64 hex digits, got "dstack-0.5.7"',
    ]);
    expect(problems({ ...deployment, attestation: { osImages: [] } })).toEqual([
      'attestation.osImages: expected at least one OS image hash (leave osImages out to allow the image the API reports)',
    ]);
    expect(problems({ ...bluegreen, attestation: { require: 'yes', timout: '1m' } })).toEqual([
      'attestation.require: expected true or false, got "yes"',
      expect.stringMatching(/^attestation.timout: unknown key/),
    ]);
  });
});
