// The worker's Prometheus endpoint settings: off unless asked for, loopback by default, bad values named.
import { describe, expect, it } from 'vitest';
import { metricsEndpoint } from '../../src/metrics/runtime';

describe('metrics endpoint', () => {
  it('is off without CVMFLOW_METRICS_PORT and on loopback by default', () => {
    expect(metricsEndpoint({})).toBeUndefined();
    expect(metricsEndpoint({ CVMFLOW_METRICS_PORT: '9464' })).toEqual({
      bindAddress: '127.0.0.1:9464',
      url: 'http://127.0.0.1:9464/metrics',
    });
    expect(metricsEndpoint({ CVMFLOW_METRICS_PORT: '9464', CVMFLOW_METRICS_HOST: '::1' })?.bindAddress).toBe(
      '[::1]:9464',
    );
  });

  it.each([
    [{ CVMFLOW_METRICS_PORT: 'abc' }, /CVMFLOW_METRICS_PORT: must be a port/],
    [{ CVMFLOW_METRICS_PORT: '70000' }, /CVMFLOW_METRICS_PORT/],
    [{ CVMFLOW_METRICS_PORT: '9464', CVMFLOW_METRICS_HOST: 'a b' }, /CVMFLOW_METRICS_HOST/],
  ])('rejects %j naming the variable', (env, message) => {
    expect(() => metricsEndpoint(env)).toThrow(message);
  });
});
