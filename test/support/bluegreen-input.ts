// A blue-green workflow input from a spec with short durations, for tests that run the workflow (or its pure parts)
// without the simulator: the same validation and conversion as `cvmflow bluegreen start`.
import { toBlueGreenInput } from '../../src/client/bluegreen';
import { validateSpec } from '../../src/spec';
import type { BlueGreenSpec } from '../../src/spec/bluegreen';
import type { BlueGreenInput } from '../../src/workflows/bluegreen-types';

export function blueGreenInput(app: string, overrides: Record<string, unknown> = {}): BlueGreenInput {
  const spec = validateSpec(
    {
      apiVersion: 'cvmflow/v1',
      kind: 'BlueGreen',
      name: app,
      compose: { inline: 'services:\n  web:\n    image: nginx:1.27\n' },
      minHealthy: '300ms',
      health: { interval: '100ms', timeout: '1s', failureThreshold: 3, deadline: '20s' },
      scaleDownDelay: '0s',
      router: {
        type: 'local',
        controlUrl: 'http://127.0.0.1:9',
        secretFromEnv: 'CVMFLOW_ROUTER_SECRET_TEST',
        timeout: '1s',
      },
      ...overrides,
    },
    { source: 'test', baseDir: process.cwd(), kinds: ['BlueGreen'] },
  ) as BlueGreenSpec;
  return toBlueGreenInput(spec, undefined, { by: 'ci', reason: 'test', triggerId: 'trigger-1' });
}
