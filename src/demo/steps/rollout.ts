// Tour step of fleet rollouts: a new compose across six single-CVM apps in waves of two; one CVM crashes right after
// its update, the failure budget (1) absorbs it — that CVM goes back to its previous compose and the rollout goes on.
import { getRolloutStatus, startRollout } from '../../client/rollout';
import { PhalaClient } from '../../phala/client';
import { validateSpec } from '../../spec';
import type { RolloutSpec } from '../../spec/rollout';
import type { DemoContext, DemoStep } from '../types';
import { until } from '../util';

const PREFIX = 'demo-fleet';
const SIZE = 6;
const compose = (tag: string) => `services:\n  web:\n    image: nginx:${tag}\n`;

async function createFleet(ctx: DemoContext): Promise<void> {
  const phala = new PhalaClient({ baseURL: ctx.stack.sim.url, apiKey: ctx.stack.env.PHALA_CLOUD_API_KEY! });
  try {
    await Promise.all(
      Array.from({ length: SIZE }, async (_, i) => {
        const name = `${PREFIX}-${String(i).padStart(2, '0')}`;
        const p = await phala.provisionCvm({
          name,
          compose_file: { docker_compose_file: compose('1.27-alpine') },
          node_id: 1,
        });
        await phala.commitCvmProvision({ app_id: p.app_id!, compose_hash: p.compose_hash });
      }),
    );
  } finally {
    await phala.close();
  }
  const fleet = () => ctx.stack.sim.cvms().filter((c) => c.name.startsWith(`${PREFIX}-`));
  await until('the fleet to run', () => fleet().length === SIZE && fleet().every((c) => c.status === 'running'));
}

export const rolloutWithFailureBudget: DemoStep = {
  title: 'rollout + failure budget',
  async run(ctx) {
    ctx.say(
      `A fleet of ${SIZE} apps (${PREFIX}-00…) on nginx 1.27; a rollout of 1.28 in waves of 2, failure budget 1.`,
    );
    await createFleet(ctx);
    const victim = `${PREFIX}-01`;
    ctx.stack.sim.addFaults({ cvms: [{ cvm: victim, crashAfterMs: 20_000, count: 1 }] });
    ctx.say(`Injected fault: ${victim} crashes 20 s (simulated) after its update.`);
    const spec = validateSpec(
      {
        apiVersion: 'cvmflow/v1',
        kind: 'Rollout',
        name: 'demo-nginx-128',
        targets: { selector: { name: `${PREFIX}-*` } },
        version: { compose: { inline: compose('1.28-alpine') } },
        strategy: { waveSize: 2, maxParallel: 2, maxUnavailable: 2 },
        health: { minHealthy: '1s' },
        failureBudget: 1,
      },
      { source: 'demo', baseDir: '.', kinds: ['Rollout'] },
    ) as RolloutSpec;
    const handle = await startRollout(spec, {
      client: ctx.client,
      taskQueue: ctx.stack.taskQueue,
      codecKeys: ctx.stack.codecKeys,
      tuning: { lockPollMs: 200, healthPollMs: 100 },
    });
    const progress = ctx.progress();
    let following = true;
    const ticker = setInterval(() => {
      getRolloutStatus(ctx.client, handle.workflowId)
        .then((s) => {
          // A query answered after the rollout ended must not print over the next step.
          if (!following) return;
          const counts = Object.entries(s.counts)
            .filter(([, n]) => n)
            .map(([state, n]) => `${state} ${n}`)
            .join(', ');
          progress.update(
            `  ${s.phase} — wave ${Math.min(s.waves.next + 1, s.waves.total)}/${s.waves.total} — ${counts} — failures ${s.failures.count}/${s.failures.budget}`,
          );
        })
        .catch(() => undefined);
    }, 250);
    try {
      const result = await handle.result();
      following = false;
      progress.done();
      const failed = result.cvms.filter((c) => c.reason);
      for (const c of failed) ctx.say(`  ${c.name}: ${c.state} — ${c.reason}`);
      const counts = Object.entries(result.counts)
        .filter(([, n]) => n)
        .map(([state, n]) => `${n} ${state}`)
        .join(', ');
      ctx.say(`  rollout ${result.outcome}: ${counts}`);
      return {
        workflowId: handle.workflowId,
        runId: handle.firstExecutionRunId,
        outcome: `${result.outcome} (${counts})`,
      };
    } finally {
      following = false;
      clearInterval(ticker);
      progress.done();
    }
  },
};
