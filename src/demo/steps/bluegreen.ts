// Tour step of blue-green: version 1 ("blue") serves through a local router; version 2 ("green") comes up beside it
// on the preview route; a promote switches the live route while requests keep flowing, and blue is retired.
import { randomBytes } from 'node:crypto';
import { awaitBlueGreen, getBlueGreenStatus, promoteBlueGreen, startBlueGreen } from '../../client/bluegreen';
import { LocalProxy } from '../../router/local-proxy';
import { validateSpec } from '../../spec';
import type { BlueGreenSpec } from '../../spec/bluegreen';
import type { DemoContext, DemoStep } from '../types';
import { sleep, until } from '../util';

const APP = 'demo-bg';
// The worker reads the router's HMAC key from its environment (CVMFLOW_ROUTER_SECRET*); the demo's worker runs in
// this process.
const SECRET_ENV = 'CVMFLOW_ROUTER_SECRET_DEMO';

const compose = (tag: string) => `services:\n  web:\n    image: nginx:${tag}\n    ports:\n      - "80:80"\n`;

function spec(proxy: LocalProxy, tag: string, fields: Record<string, unknown>): BlueGreenSpec {
  return validateSpec(
    {
      apiVersion: 'cvmflow/v1',
      kind: 'BlueGreen',
      name: APP,
      compose: { inline: compose(tag) },
      minHealthy: '300ms',
      health: { interval: '100ms', timeout: '1s', failureThreshold: 3, deadline: '20s' },
      scaleDownDelay: '1s',
      router: { type: 'local', controlUrl: proxy.controlUrl, secretFromEnv: SECRET_ENV, timeout: '1s' },
      ...fields,
    },
    { source: 'demo', baseDir: '.', kinds: ['BlueGreen'] },
  ) as BlueGreenSpec;
}

/** Which deployment answered a request on a route (the simulated app says its CVM's name). */
async function who(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) return undefined;
    return ((await res.json()) as { app?: string }).app;
  } catch {
    return undefined;
  }
}

function launch(ctx: DemoContext, s: BlueGreenSpec, reason: string) {
  return startBlueGreen(s, {
    client: ctx.client,
    taskQueue: ctx.stack.taskQueue,
    codecKeys: ctx.stack.codecKeys,
    trigger: { by: 'demo', reason },
  });
}

export const blueGreenSwitch: DemoStep = {
  title: 'blue-green traffic switch',
  async run(ctx) {
    const secret = randomBytes(16).toString('hex');
    process.env[SECRET_ENV] = secret;
    const proxy = await LocalProxy.start({
      controlPort: 0,
      secret,
      apps: { [APP]: { activePort: 0, previewPort: 0 } },
    });
    try {
      const urls = proxy.urls(APP);
      ctx.say(`Blue-green for ${APP} behind a local router: live ${urls.active}, preview ${urls.preview}.`);
      const first = await launch(ctx, spec(proxy, '1.27', { autoPromote: true, minHealthy: '0s' }), 'version 1');
      const blueRun = await awaitBlueGreen(ctx.client, APP, first.runId);
      const blue = blueRun.active?.name ?? '?';
      ctx.say(`  blue ${blue} is live: ${urls.active} → ${await who(urls.active)}`);

      ctx.say('Version 2 goes up beside it as green; it must pass the health gate, then waits on the preview route.');
      const second = await launch(ctx, spec(proxy, '1.28', {}), 'version 2');
      const preview = await until('green on the preview route', async () => {
        const { status } = await getBlueGreenStatus(ctx.client, APP);
        return status.phase === 'preview' && status.green ? status.green.name : undefined;
      });
      await until('the preview route to answer', async () => (await who(urls.preview)) === preview);
      ctx.say(`  preview → ${await who(urls.preview)}, live still → ${await who(urls.active)}`);

      ctx.say('Promote, with requests flowing on the live route the whole time:');
      const answered: string[] = [];
      let failed = 0;
      let flowing = true;
      const traffic = (async () => {
        while (flowing) {
          const name = await who(urls.active);
          if (name) answered.push(name);
          else failed++;
        }
      })();
      await sleep(200);
      await promoteBlueGreen(ctx.client, APP, { by: 'demo', reason: 'preview looks good' });
      await sleep(200);
      flowing = false;
      await traffic;
      const toBlue = answered.filter((n) => n === blue).length;
      const toGreen = answered.filter((n) => n === preview).length;
      ctx.say(`  ${answered.length + failed} requests: ${toBlue} → blue, then ${toGreen} → green, ${failed} failed`);
      const result = await awaitBlueGreen(ctx.client, APP, second.runId);
      ctx.say(`  ${result.summary}`);
      return {
        workflowId: second.workflowId,
        runId: second.runId,
        outcome: `${result.outcome}: ${toBlue} req → blue, ${toGreen} → green, ${failed} failed`,
      };
    } finally {
      await proxy.close();
    }
  },
};
