// `cvmflow plan`'s comparison of a spec's compose with the app-compose the API returns, field by field.
import { describe, expect, it } from 'vitest';
import { composeDifferences } from '../../src/cli/commands/plan';
import { type DeploymentSpec, validateSpec } from '../../src/spec';

const COMPOSE = 'services:\n  web:\n    image: nginx:1.27-alpine\n';

const spec = (fields: Record<string, unknown> = {}) =>
  validateSpec(
    {
      apiVersion: 'cvmflow/v1',
      kind: 'Deployment',
      name: 'plan-app',
      compose: { inline: COMPOSE },
      env: ['A', 'B'],
      ...fields,
    },
    { source: 'test', baseDir: '.', kinds: ['Deployment'] },
  ) as DeploymentSpec;

// What the API returns: the server's defaults included (features, manifest_version, …).
const current = {
  docker_compose_file: COMPOSE,
  allowed_envs: ['A', 'B'],
  public_logs: false,
  public_sysinfo: false,
  public_tcbinfo: false,
  features: ['kms', 'tproxy-net'],
  manifest_version: 2,
  name: 'plan-app',
};

describe('plan compose comparison', () => {
  it('finds no difference when the fields a deploy writes match, whatever the server added', () => {
    expect(composeDifferences(spec(), current)).toEqual([]);
  });

  it('names each field that differs', () => {
    expect(
      composeDifferences(spec({ visibility: { publicLogs: true } }), {
        ...current,
        allowed_envs: ['B', 'A'],
        pre_launch_script: '#!/bin/sh\n',
      }),
    ).toEqual(['pre_launch_script', 'allowed_envs', 'public_logs']);
  });
});
