// The HTTP trigger server against the real stack: authentication before anything else, one deployment per
// delivery id however often it is delivered, and a trigger for an app with a deployment in progress rejected or
// superseding it, as the spec says.
import { WorkflowNotFoundError } from '@temporalio/client';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awaitBlueGreen, blueGreenHandle, deliveryWorkflowId } from '../../src/client/bluegreen';
import type { LocalProxy } from '../../src/router/local-proxy';
import { bodySignature } from '../../src/trigger/auth';
import { createTriggerHandler, TriggerSpecs } from '../../src/trigger/handler';
import { startTriggerServer, type TriggerServer } from '../../src/trigger/server';
import { startStack, type TestStack } from '../support/stack';
import { TEST_CODEC_KEYS } from '../support/temporal';
import { compose, liveCvms, newApp, ROUTER_SECRET_ENV, startProxy, TUNING, waitForPhase } from './bluegreen-support';

const TOKEN = 'trigger-token-for-tests';
const HMAC = 'trigger-hmac-key-for-tests';

describe('blue-green trigger server', () => {
  let stack: TestStack;
  let server: TriggerServer;
  const specs = new TriggerSpecs();
  const apps = { reject: newApp(), supersede: newApp() };
  const proxies: LocalProxy[] = [];

  beforeAll(async () => {
    stack = await startStack();
    await stack.startWorker();
    for (const [policy, app] of Object.entries(apps)) {
      const proxy = await startProxy(app);
      proxies.push(proxy);
      specs.add(
        {
          apiVersion: 'cvmflow/v1',
          kind: 'BlueGreen',
          name: app,
          compose: { inline: compose('1.27') },
          minHealthy: '0s',
          health: { interval: '100ms', timeout: '1s', deadline: '20s' },
          scaleDownDelay: '0s',
          onTrigger: policy,
          router: { type: 'local', controlUrl: proxy.controlUrl, secretFromEnv: ROUTER_SECRET_ENV, timeout: '2s' },
        },
        process.cwd(),
        `${policy}.yaml`,
      );
    }
    server = await startTriggerServer({
      port: 0,
      auth: { token: TOKEN, hmacSecret: HMAC },
      apps: specs.apps(),
      maxBodyBytes: 4096,
      handle: createTriggerHandler({
        client: stack.client,
        taskQueue: stack.taskQueue,
        specs,
        codecKeys: TEST_CODEC_KEYS,
        tuning: TUNING,
      }),
    });
  });
  afterAll(async () => {
    await server?.close();
    for (const p of proxies) await p.close();
    await stack?.close();
  });

  async function post(app: string, body: unknown, headers: Record<string, string>) {
    const text = JSON.stringify(body);
    const res = await request(`${server.url}/v1/bluegreen/${app}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: text,
    });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  }
  const signed = (body: unknown, delivery: string) => ({
    'x-hub-signature-256': bodySignature(HMAC, JSON.stringify(body)),
    'x-github-delivery': delivery,
  });

  it('a bad signature or token gets 401 and starts nothing', async () => {
    const app = apps.reject;
    const body = { compose: compose('1.28'), reason: 'release' };
    const forged = await post(app, body, {
      'x-hub-signature-256': bodySignature('wrong-key', JSON.stringify(body)),
      'x-github-delivery': 'd-forged',
    });
    expect(forged.status).toBe(401);
    expect(forged.body.error).toMatch(/signature does not match/);
    const tampered = await post(app, { ...body, reason: 'other' }, signed(body, 'd-tampered'));
    expect(tampered.status).toBe(401);
    const token = await post(app, body, { authorization: 'Bearer not-the-token', 'x-cvmflow-delivery': 'd-token' });
    expect(token.status).toBe(401);
    expect(JSON.stringify([forged, tampered, token])).not.toContain(TOKEN);
    await expect(blueGreenHandle(stack.client, app).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    for (const d of ['d-forged', 'd-tampered', 'd-token'])
      await expect(stack.client.workflow.getHandle(deliveryWorkflowId(app, d)).describe()).rejects.toBeInstanceOf(
        WorkflowNotFoundError,
      );
    expect(liveCvms(stack, app)).toEqual([]);
  });

  it('rejects what it must not read: too large, no delivery id, unknown app', async () => {
    const big = { compose: 'x'.repeat(5000) };
    expect(
      (await post(apps.reject, big, { authorization: `Bearer ${TOKEN}`, 'x-cvmflow-delivery': 'd-big' })).status,
    ).toBe(413);
    expect((await post(apps.reject, {}, { authorization: `Bearer ${TOKEN}` })).status).toBe(400);
    expect(
      (await post('not-an-app', {}, { authorization: `Bearer ${TOKEN}`, 'x-cvmflow-delivery': 'd-x' })).status,
    ).toBe(404);
  });

  it('the same delivery id twice starts one deployment; a new one while it runs is rejected (onTrigger: reject)', async () => {
    const app = apps.reject;
    const body = { compose: compose('1.28'), reason: 'release 1.28', by: 'github-actions' };
    const first = await post(app, body, signed(body, 'delivery-1'));
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ workflowId: `bluegreen-${app}`, duplicate: false });
    const again = await post(app, body, signed(body, 'delivery-1'));
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ duplicate: true, runId: first.body.runId });

    // The first deployment of the app waits in preview (manual promotion): a new delivery is refused.
    await waitForPhase(stack, app, 'preview');
    const other = await post(
      app,
      { compose: compose('1.29') },
      { authorization: `Bearer ${TOKEN}`, 'x-cvmflow-delivery': 'delivery-2' },
    );
    expect(other.status).toBe(409);
    expect(other.body.error).toMatch(/in progress .*phase preview.*onTrigger is reject/);
    expect(other.body.runId).toBe(first.body.runId);

    const description = await blueGreenHandle(stack.client, app).describe();
    expect(description.runId).toBe(first.body.runId);
    const status = await blueGreenHandle(stack.client, app).query('status');
    expect((status as { trigger: { by: string } }).trigger.by).toBe('github-actions via webhook (hmac)');
    const greens = new Set(liveCvms(stack, app).map((c) => c.name));
    expect(greens.size).toBe(1);
  });

  it('onTrigger: supersede aborts the deployment in progress and starts the new one', async () => {
    const app = apps.supersede;
    const first = await post(
      app,
      { compose: compose('1.28') },
      { authorization: `Bearer ${TOKEN}`, 'x-cvmflow-delivery': 's-1' },
    );
    expect(first.status).toBe(202);
    const preview = await waitForPhase(stack, app, 'preview');
    const second = await post(
      app,
      { compose: compose('1.29'), reason: 'hotfix' },
      { authorization: `Bearer ${TOKEN}`, 'x-cvmflow-delivery': 's-2' },
    );
    expect(second.status).toBe(202);
    expect(second.body.superseded).toMatchObject({ runId: first.body.runId, phase: 'preview', action: 'abort' });
    expect(second.body.runId).not.toBe(first.body.runId);
    const aborted = await awaitBlueGreen(stack.client, app, first.body.runId as string);
    expect(aborted.outcome).toBe('aborted');
    expect(aborted.history.find((h) => h.kind === 'abort')?.reason).toMatch(/superseded by a new trigger/);
    const next = await waitForPhase(stack, app, 'preview');
    expect(next.green!.name).not.toBe(preview.green!.name);
  });
});
