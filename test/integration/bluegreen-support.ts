// Shared by the blue-green integration tests: specs with short durations, a local proxy per app, polling helpers
// and a client of the simulator's app-endpoint admin API.
import { request } from 'undici';
import { awaitBlueGreen, getBlueGreenStatus, type LaunchOutcome, startBlueGreen } from '../../src/client/bluegreen';
import { LocalProxy } from '../../src/router/local-proxy';
import { validateSpec } from '../../src/spec';
import type { BlueGreenSpec } from '../../src/spec/bluegreen';
import type { BlueGreenPhase, BlueGreenStatus } from '../../src/workflows/bluegreen-types';
import type { TestStack } from '../support/stack';
import { TEST_CODEC_KEYS, uniqueId } from '../support/temporal';

export const ROUTER_SECRET_ENV = 'CVMFLOW_ROUTER_SECRET_TEST';
export const ROUTER_SECRET = 'router-hmac-key-for-tests';
process.env[ROUTER_SECRET_ENV] = ROUTER_SECRET;

export const compose = (tag: string) => `services:\n  web:\n    image: nginx:${tag}\n    ports:\n      - "80:80"\n`;

export const TUNING = { heartbeatTimeoutMs: 2000, apiAttemptTimeoutMs: 3000 };
export const ACTOR = { by: 'test', reason: 'integration test' };

export function bgSpec(
  app: string,
  proxy: LocalProxy | string,
  overrides: Record<string, unknown> = {},
): BlueGreenSpec {
  const router =
    typeof proxy === 'string'
      ? { type: 'webhook', url: proxy, secretFromEnv: ROUTER_SECRET_ENV, timeout: '1s' }
      : { type: 'local', controlUrl: proxy.controlUrl, secretFromEnv: ROUTER_SECRET_ENV, timeout: '1s' };
  return validateSpec(
    {
      apiVersion: 'cvmflow/v1',
      kind: 'BlueGreen',
      name: app,
      compose: { inline: compose('1.27') },
      minHealthy: '300ms',
      health: { interval: '100ms', timeout: '1s', failureThreshold: 3, deadline: '20s' },
      scaleDownDelay: '0s',
      router,
      ...overrides,
    },
    { source: 'test', baseDir: process.cwd(), kinds: ['BlueGreen'] },
  ) as BlueGreenSpec;
}

export const newApp = () => uniqueId('bg');

export async function startProxy(app: string, opts: Partial<Parameters<typeof LocalProxy.start>[0]> = {}) {
  return LocalProxy.start({
    controlPort: 0,
    secret: ROUTER_SECRET,
    apps: { [app]: { activePort: 0, previewPort: 0 } },
    ...opts,
  });
}

export function launch(stack: TestStack, spec: BlueGreenSpec, reason = 'test'): Promise<LaunchOutcome> {
  return startBlueGreen(spec, {
    client: stack.client,
    taskQueue: stack.taskQueue,
    codecKeys: TEST_CODEC_KEYS,
    trigger: { by: 'test', reason },
    tuning: TUNING,
  });
}

/** Deploys a first version, promoted automatically at once: the blue of the test that follows. */
export async function deployBlue(
  stack: TestStack,
  app: string,
  proxy: LocalProxy,
  extra: Record<string, unknown> = {},
) {
  const spec = bgSpec(app, proxy, { autoPromote: true, minHealthy: '0s', ...extra });
  const started = await launch(stack, spec, 'first version');
  const result = await awaitBlueGreen(stack.client, app, started.runId);
  if (result.outcome !== 'promoted') throw new Error(`blue was not promoted: ${result.summary}`);
  return result.active!;
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function waitForPhase(
  stack: TestStack,
  app: string,
  phase: BlueGreenPhase,
  timeoutMs?: number,
): Promise<BlueGreenStatus> {
  return waitFor(
    `phase ${phase} of ${app}`,
    async () => {
      const { status } = await getBlueGreenStatus(stack.client, app);
      return status.phase === phase ? status : undefined;
    },
    timeoutMs,
  );
}

/** GET through the proxy; returns the app name that answered, or the failure. */
export async function hit(url: string): Promise<{ ok: boolean; app?: string; status: number; error?: string }> {
  try {
    const res = await request(url, { method: 'GET', headersTimeout: 5000, bodyTimeout: 5000 });
    const text = await res.body.text();
    if (res.statusCode !== 200) return { ok: false, status: res.statusCode, error: text };
    return { ok: true, status: 200, app: (JSON.parse(text) as { app: string }).app };
  } catch (err) {
    return { ok: false, status: 0, error: (err as Error).message };
  }
}

/** Sets how the simulated apps whose CVM names match a glob answer /health. */
export async function setAppHealth(stack: TestStack, rule: { name: string; health?: number; latencyMs?: number }) {
  const res = await request(`${stack.sim.adminUrl}/admin/apps/rules`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.sim.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ match: { name: rule.name }, health: rule.health, latencyMs: rule.latencyMs }),
  });
  if (res.statusCode !== 201) throw new Error(`admin rejected the rule: ${await res.body.text()}`);
  await res.body.dump();
}

/** Live (not deleting) simulated CVMs whose names start with the app's. */
export function liveCvms(stack: TestStack, app: string) {
  return stack.sim.cvms().filter((c) => c.name.startsWith(`${app}-`) && c.status !== 'deleting');
}
