// Deployment specs for tests, built through the same validation users get.
import { type DeploymentSpec, validateSpec } from '../../src/spec';
import { uniqueId } from './temporal';

export const COMPOSE = 'services:\n  web:\n    image: nginx:1.27-alpine\n    ports:\n      - "80:80"\n';

export function testSpec(overrides: Record<string, unknown> = {}): DeploymentSpec {
  return validateSpec(
    {
      apiVersion: 'cvmflow/v1',
      kind: 'Deployment',
      name: uniqueId('app'),
      compose: { inline: COMPOSE },
      ...overrides,
    },
    { source: 'test', baseDir: process.cwd(), kinds: ['Deployment'] },
  ) as DeploymentSpec;
}
