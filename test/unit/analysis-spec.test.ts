// Metric analysis in specs: Rollout's per-wave and background `analysis`, PowerSchedule's `analysis.afterStart` and
// BlueGreen's pre/post-promotion `metrics`, validated at load — a malformed condition or provider is refused naming
// the field, also through the CLI (exit 2, one line).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { SpecError, validateSpec } from '../../src/spec';
import { cleanEnv, expectUserError, runCli } from '../e2e/cli';

const COMPOSE = 'services:\n  web:\n    image: nginx:1.28-alpine\n';
const ERROR_RATE = {
  name: 'error-rate',
  provider: { prometheus: { address: 'http://127.0.0.1:9090', query: 'sum(rate(x{cvm=~"{cvm}"}[1m]))' } },
  successCondition: 'result[0] < 0.05',
};
const rollout = (analysis: unknown) => ({
  apiVersion: 'cvmflow/v1',
  kind: 'Rollout',
  name: 'web-fleet',
  targets: { apps: ['web-1'] },
  version: { compose: { inline: COMPOSE } },
  analysis,
});
const bluegreen = (prePromotion: unknown) => ({
  apiVersion: 'cvmflow/v1',
  kind: 'BlueGreen',
  name: 'web-shop',
  compose: { inline: COMPOSE },
  analysis: { prePromotion },
});

function problems(doc: Record<string, unknown>): string[] {
  try {
    validateSpec(doc, { source: 'spec.yaml', baseDir: '/specs', kinds: [doc.kind as 'Rollout'] });
  } catch (err) {
    if (err instanceof SpecError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  throw new Error('expected the spec to be rejected');
}

describe('analysis specs', () => {
  it('reads a rollout analysis with Argo defaults, headers resolved against the spec folder', () => {
    const spec = validateSpec(
      rollout({
        metrics: [
          {
            ...ERROR_RATE,
            provider: {
              prometheus: {
                ...ERROR_RATE.provider.prometheus,
                range: { duration: '5m' },
                headers: [{ name: 'Authorization', fromFile: 'token.txt' }],
              },
            },
            dryRun: true,
            interval: '15s',
          },
          { name: 'smoke', provider: { job: { command: ['./smoke.sh', '{app}'] } } },
        ],
      }),
      { source: 'rollout.yaml', baseDir: '/specs', kinds: ['Rollout'] },
    );
    expect(spec.analysis).toEqual({
      onFailure: 'abort',
      metrics: [
        {
          name: 'error-rate',
          provider: {
            type: 'prometheus',
            address: 'http://127.0.0.1:9090',
            query: 'sum(rate(x{cvm=~"{cvm}"}[1m]))',
            range: { rangeMs: 300_000, stepMs: 15_000 },
            headers: [{ name: 'Authorization', fromFile: '/specs/token.txt' }],
          },
          successCondition: 'result[0] < 0.05',
          count: 3,
          intervalMs: 15_000,
          initialDelayMs: 0,
          failureLimit: 0,
          inconclusiveLimit: 0,
          consecutiveErrorLimit: 4,
          dryRun: true,
          timeoutMs: 10_000,
        },
        expect.objectContaining({ name: 'smoke', provider: { type: 'job', command: ['./smoke.sh', '{app}'] } }),
      ],
    });
  });

  it('keeps the web check form of blue-green analysis and adds the metrics form', () => {
    const web = validateSpec(bluegreen({ url: 'http://127.0.0.1:1/check?app={app}' }), {
      source: 'bg.yaml',
      baseDir: '/specs',
      kinds: ['BlueGreen'],
    });
    expect(web.analysis.prePromotion).toMatchObject({ url: 'http://127.0.0.1:1/check?app={app}', errorLimit: 4 });
    const metrics = validateSpec(bluegreen({ metrics: [ERROR_RATE] }), {
      source: 'bg.yaml',
      baseDir: '/specs',
      kinds: ['BlueGreen'],
    });
    expect(metrics.analysis.prePromotion).toMatchObject({ metrics: [{ name: 'error-rate', count: 3 }] });
  });

  it.each([
    [
      { metrics: [{ ...ERROR_RATE, successCondition: 'result[0] <' }] },
      /^analysis\.metrics\[0\]\.successCondition: .*Expected expression/,
    ],
    [
      { metrics: [{ ...ERROR_RATE, failureCondition: 'process.exit(1)' }] },
      /^analysis\.metrics\[0\]\.failureCondition: unknown function/,
    ],
    [
      { metrics: [{ ...ERROR_RATE, successCondition: undefined }] },
      /^analysis\.metrics\[0\]\.successCondition: a prometheus metric needs/,
    ],
    [
      { metrics: [{ ...ERROR_RATE, provider: { datadog: {} } }] },
      /^analysis\.metrics\[0\]\.provider\.datadog: unknown key/,
    ],
    [{ metrics: [{ ...ERROR_RATE, provider: {} }] }, /^analysis\.metrics\[0\]\.provider: give exactly one provider/],
    [
      { metrics: [{ name: 'j', provider: { job: { command: [] } } }] },
      /^analysis\.metrics\[0\]\.provider\.job\.command: /,
    ],
    [{ metrics: [ERROR_RATE, ERROR_RATE] }, /^analysis\.metrics\[1\]\.name: metric error-rate is listed twice/],
    [{ metrics: [ERROR_RATE], onFailure: 'retry' }, /^analysis\.onFailure: expected one of budget, abort/],
    [
      {
        metrics: [
          {
            ...ERROR_RATE,
            provider: {
              prometheus: {
                ...ERROR_RATE.provider.prometheus,
                headers: [{ name: 'Authorization', value: 'Bearer x' }],
              },
            },
          },
        ],
      },
      /headers\[0\]\.value: unknown key/,
    ],
    [
      { background: { metrics: [{ ...ERROR_RATE, successCondition: 'result[0] < 0.05 ||' }] } },
      /^analysis\.background\.metrics\[0\]\.successCondition: /,
    ],
    [{ background: { metrics: [{ ...ERROR_RATE, count: 0 }] } }, /^analysis\.background\.metrics\[0\]\.count: /],
    [{ background: {} }, /^analysis\.background\.metrics: /],
    [{ onFailure: 'abort' }, /^analysis: give analysis\.metrics \(after each wave\), analysis\.background\.metrics/],
  ])('refuses %j', (analysis, message) => {
    const found = problems(rollout(analysis));
    expect(
      found.some((p) => message.test(p)),
      found.join('\n'),
    ).toBe(true);
  });

  it('reads a background analysis: measured until the rollout ends unless it gives a count', () => {
    const spec = validateSpec(
      rollout({ background: { metrics: [ERROR_RATE, { ...ERROR_RATE, name: 'bounded', count: 20 }] } }),
      { source: 'spec.yaml', baseDir: '/specs', kinds: ['Rollout'] },
    );
    expect(spec.analysis).toMatchObject({
      metrics: [],
      onFailure: 'abort',
      background: {
        metrics: [
          { name: 'error-rate', count: 0, intervalMs: 30_000, failureLimit: 0, consecutiveErrorLimit: 4 },
          { name: 'bounded', count: 20 },
        ],
      },
    });
  });

  it('reads a power schedule analysis after start, and refuses a malformed condition in it, naming the field', () => {
    const power = (metrics: unknown[]) => ({
      apiVersion: 'cvmflow/v1',
      kind: 'PowerSchedule',
      name: 'office',
      targets: { apps: ['web-1'] },
      calendar: { timezone: 'UTC', default: 'stopped' },
      analysis: { afterStart: { metrics } },
    });
    const spec = validateSpec(power([ERROR_RATE]), { source: 'p.yaml', baseDir: '/specs', kinds: ['PowerSchedule'] });
    expect(spec.analysis).toMatchObject({ afterStart: { metrics: [{ name: 'error-rate', count: 3 }] } });
    expect(problems(power([{ ...ERROR_RATE, successCondition: 'result[0] > ' }])).join('\n')).toMatch(
      /^analysis\.afterStart\.metrics\[0\]\.successCondition: /,
    );
  });

  it('refuses a malformed condition in blue-green metrics, naming the field', () => {
    const found = problems(bluegreen({ metrics: [{ ...ERROR_RATE, successCondition: 'result[0] < 0.05 &&' }] }));
    expect(found.join('\n')).toMatch(/^analysis\.prePromotion\.metrics\[0\]\.successCondition: /);
  });

  describe('through the CLI', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cvmflow-analysis-spec-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it.each([
      ['rollout', ['rollout', 'start'], rollout({ metrics: [{ ...ERROR_RATE, successCondition: 'result[0] <<< 1' }] })],
      ['bluegreen', ['bluegreen', 'start'], bluegreen({ metrics: [{ ...ERROR_RATE, successCondition: 'len(' }] })],
    ])('%s: a malformed condition exits 2 with one line naming the field, nothing started', async (kind, args, doc) => {
      const file = join(dir, `${kind}.yaml`);
      writeFileSync(file, stringify(doc));
      // An address nothing listens on: were anything started, the command would fail with exit 1, not 2.
      const r = await runCli([...args, '-f', file], { env: cleanEnv({ TEMPORAL_ADDRESS: '127.0.0.1:9' }) });
      expect(expectUserError(r, /successCondition/)).toBeUndefined();
    });
  });
});
