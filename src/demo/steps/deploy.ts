// Tour steps of the deploy pipeline: a new app with replicas spread over two nodes, then a compose update that
// rolls through every CVM of the app.
import type { DemoStep } from '../types';
import { deployAndFollow, deploymentSpec } from '../util';

export const DEMO_APP = 'demo-web';

const compose = (version: string) => `services:\n  web:\n    image: nginx:${version}\n    ports:\n      - "80:80"\n`;

export const deployWithReplicas: DemoStep = {
  title: 'deploy with replicas',
  async run(ctx) {
    ctx.say(
      `Deploying ${DEMO_APP}: 3 CVMs over nodes 1 and 2. Each Phala API call is a retried activity; the watch for "running" is a heartbeating activity fed by the API's event stream.`,
    );
    const spec = deploymentSpec({
      name: DEMO_APP,
      compose: { inline: compose('1.27-alpine') },
      placement: { nodes: [1, 2] },
      replicas: 3,
    });
    const r = await deployAndFollow(ctx, spec);
    ctx.shared.set('app', DEMO_APP);
    ctx.say(`${r.result.cvms.length} CVMs running, compose ${r.result.composeHash.slice(0, 12)}.`);
    return { ...r, outcome: `created ${r.result.cvms.length} CVMs` };
  },
};

export const updateCompose: DemoStep = {
  title: 'update the compose',
  async run(ctx) {
    ctx.say(
      'Updating the same app to a new nginx image: the workflow finds the existing CVMs and updates each one; had one failed, the others would have been restored.',
    );
    const spec = deploymentSpec({
      name: DEMO_APP,
      compose: { inline: compose('1.28-alpine') },
      placement: { nodes: [1, 2] },
      replicas: 3,
    });
    const r = await deployAndFollow(ctx, spec);
    const before = r.result.previousComposeHash?.slice(0, 12) ?? '?';
    ctx.say(`compose ${before} → ${r.result.composeHash.slice(0, 12)} on ${r.result.cvms.length} CVMs.`);
    return { ...r, outcome: `updated ${r.result.cvms.length} CVMs (${before} → ${r.result.composeHash.slice(0, 12)})` };
  },
};
