import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { toBlueGreenInput } from '../../src/client/bluegreen';
import { loadSpecFile, SpecError, validateSpec } from '../../src/spec';
import type { BlueGreenSpec } from '../../src/spec/bluegreen';

const BASE = {
  apiVersion: 'cvmflow/v1',
  kind: 'BlueGreen',
  name: 'web-shop',
  compose: { inline: 'services:\n  web:\n    image: nginx\n' },
};

const parse = (extra: Record<string, unknown> = {}) =>
  validateSpec({ ...BASE, ...extra }, { source: 's.yaml', baseDir: '/', kinds: ['BlueGreen'] }) as BlueGreenSpec;

function problems(extra: Record<string, unknown>): string[] {
  try {
    parse(extra);
  } catch (err) {
    if (err instanceof SpecError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  throw new Error('expected the spec to be rejected');
}

describe('kind: BlueGreen', () => {
  it('applies the defaults: manual promotion, a day of preview, blue warm for 30 minutes, the local router', () => {
    const spec = parse();
    expect(spec).toMatchObject({
      kind: 'BlueGreen',
      name: 'web-shop',
      replicas: 1,
      autoPromote: false,
      autoPromoteAfterMs: 0,
      previewTtlMs: 86_400_000,
      minHealthyMs: 30_000,
      health: {
        path: '/health',
        expectStatus: [200],
        intervalMs: 5000,
        timeoutMs: 2000,
        failureThreshold: 3,
        deadlineMs: 600_000,
      },
      analysis: {},
      scaleDownDelayMs: 1_800_000,
      blueDuringDelay: 'running',
      abortPolicy: 'delete',
      onTrigger: 'reject',
      router: {
        type: 'local',
        controlUrl: 'http://127.0.0.1:8480',
        activePort: 8080,
        previewPort: 8081,
        secretFromEnv: 'CVMFLOW_ROUTER_SECRET',
        timeoutMs: 10_000,
      },
    });
    expect(spec).not.toHaveProperty('ifBusy');
  });

  it('names each problem by its field, with did-you-mean across deployment and blue-green keys', () => {
    expect(problems({ autoPromte: true, replicaz: 2, health: { path: 'health', intervall: '1s' } })).toEqual([
      'autoPromte: unknown key; did you mean `autoPromote`?',
      'replicaz: unknown key; did you mean `replicas`?',
      'health.path: expected a path starting with /, got "health"',
      'health.intervall: unknown key; did you mean `interval`?',
    ]);
  });

  it('refuses ifBusy (onTrigger says what a new trigger does) and cross-field contradictions', () => {
    expect(problems({ ifBusy: 'wait' })).toEqual([
      'ifBusy: not used by BlueGreen: onTrigger (reject | supersede) says what a new trigger does while a deployment runs',
    ]);
    expect(problems({ autoPromote: true, autoPromoteAfter: '2d', previewTtl: '1d' })[0]).toMatch(
      /^autoPromoteAfter: autoPromoteAfter \(2d\) must be shorter than previewTtl \(1d\)/,
    );
    expect(problems({ router: { activePort: 9000, previewPort: 9000 } })).toEqual([
      'router.previewPort: the preview route needs its own port; activePort and previewPort are both 9000',
    ]);
  });

  it('validates the router by its type, and reads its key only from CVMFLOW_ROUTER_SECRET* variables', () => {
    expect(problems({ router: { type: 'webhook' } })).toEqual([
      'router.url: required; expected an http(s) URL that receives route changes',
    ]);
    expect(problems({ router: { type: 'webhok' } })).toEqual(['router.type: expected local or webhook, got "webhok"']);
    expect(
      problems({ router: { type: 'webhook', url: 'https://lb.example/x', secretFromEnv: 'PHALA_CLOUD_API_KEY' } }),
    ).toEqual([
      'router.secretFromEnv: expected the name of a worker environment variable starting with CVMFLOW_ROUTER_SECRET, got "PHALA_CLOUD_API_KEY"',
    ]);
    expect(
      parse({
        router: {
          type: 'webhook',
          url: 'https://lb.example/hook',
          secretFromEnv: 'CVMFLOW_ROUTER_SECRET_SHOP',
          timeout: '3s',
        },
      }).router,
    ).toEqual({
      type: 'webhook',
      url: 'https://lb.example/hook',
      secretFromEnv: 'CVMFLOW_ROUTER_SECRET_SHOP',
      timeoutMs: 3000,
    });
  });

  it('leaves room in the name for the -green-<id> suffix', () => {
    expect(problems({ name: `a${'b'.repeat(50)}` })[0]).toMatch(
      /^name: .* has 51 characters; a BlueGreen name may have at most 50/,
    );
  });

  it('checks analysis web checks: URL with placeholders, limits', () => {
    const spec = parse({
      analysis: { postPromotion: { url: 'https://c.example/slo?app={app}&v={version}', failureLimit: 1 } },
    });
    expect(spec.analysis.postPromotion).toEqual({
      url: 'https://c.example/slo?app={app}&v={version}',
      method: 'GET',
      intervalMs: 10_000,
      count: 3,
      timeoutMs: 10_000,
      failureLimit: 1,
      errorLimit: 4,
      inconclusiveLimit: 0,
    });
    expect(problems({ analysis: { prePromotion: { url: 'ftp://x' } } })[0]).toMatch(
      /^analysis.prePromotion.url: expected an http\(s\) URL/,
    );
  });

  it('becomes a workflow input that carries the router key’s variable name, never a value', () => {
    const input = toBlueGreenInput(parse({ replicas: 2 }), undefined, { by: 'ci', reason: 'release' });
    expect(input.app).toBe('web-shop');
    expect(input.deploy).toMatchObject({ app: 'web-shop', replicas: 2, onFailure: 'rollback' });
    expect(input.policy.router).toEqual({
      type: 'local',
      controlUrl: 'http://127.0.0.1:8480',
      secretEnv: 'CVMFLOW_ROUTER_SECRET',
      timeoutMs: 10_000,
    });
    expect(input.trigger).toMatchObject({ by: 'ci', reason: 'release' });
    expect(input.trigger.triggerId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('examples/bluegreen.yaml means what its comments say', () => {
    const spec = loadSpecFile(fileURLToPath(new URL('../../examples/bluegreen.yaml', import.meta.url)), {
      kinds: ['BlueGreen'],
    }) as BlueGreenSpec;
    expect(spec).toMatchObject({
      name: 'web-shop',
      autoPromote: false,
      minHealthyMs: 30_000,
      scaleDownDelayMs: 1_800_000,
      router: { type: 'local', activePort: 8080, previewPort: 8081 },
    });
    expect(spec.analysis.prePromotion).toMatchObject({ count: 3, errorLimit: 4 });
    expect(spec.analysis.postPromotion).toMatchObject({
      metrics: [
        {
          name: 'error-rate',
          failureLimit: 1,
          provider: { type: 'prometheus', headers: [{ name: 'Authorization', fromEnv: 'PROMETHEUS_AUTHORIZATION' }] },
        },
        { name: 'p99-latency', dryRun: true },
      ],
    });
    expect(spec.compose.dockerCompose).toContain('nginx:1.28');
  });
});
