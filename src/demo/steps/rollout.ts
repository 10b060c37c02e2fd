// Tour step of fleet rollouts: a new compose across six single-CVM apps in waves of two; one CVM crashes right after
// its update, the failure budget (1) absorbs it — that CVM goes back to its previous compose and the rollout goes on.
// With Prometheus on the machine each wave is also judged on its error rate (../metric-analysis.ts), and a second
// rollout, whose CVM the simulator makes fail 50% of its requests, is stopped by the analysis and reverted.
import { WorkflowFailedError } from '@temporalio/client';
import { abortRollout, getRolloutStatus, startRollout } from '../../client/rollout';
import { PhalaClient } from '../../phala/client';
import { validateSpec } from '../../spec';
import type { RolloutSpec } from '../../spec/rollout';
import type { RolloutResult } from '../../workflows/rollout-types';
import { analysisLines, errorRateAnalysis, raiseErrorRate, summariseAnalyses } from '../metric-analysis';
import type { DemoAnalysis, DemoContext, DemoStep } from '../types';
import { until } from '../util';

const PREFIX = 'demo-fleet';
const SIZE = 6;
const compose = (tag: string) => `services:\n  web:\n    image: nginx:${tag}\n`;
const counted = (counts: RolloutResult['counts']) =>
  Object.entries(counts)
    .filter(([, n]) => n)
    .map(([state, n]) => `${n} ${state}`)
    .join(', ');

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

function rolloutSpec(fields: Record<string, unknown>): RolloutSpec {
  return validateSpec(
    {
      apiVersion: 'cvmflow/v1',
      kind: 'Rollout',
      health: { minHealthy: '1s' },
      ...fields,
    },
    { source: 'demo', baseDir: '.', kinds: ['Rollout'] },
  ) as RolloutSpec;
}

interface Followed {
  workflowId: string;
  runId: string;
  /** The result, or why the rollout failed. */
  outcome: RolloutResult | { failed: string };
  analysis?: DemoAnalysis;
}

/**
 * Runs a rollout with a live progress line until it ends. The tour never waits for a person: a rollout that pauses
 * (an analysis without a usable answer) is aborted and reverted.
 */
async function followRollout(ctx: DemoContext, spec: RolloutSpec): Promise<Followed> {
  const handle = await startRollout(spec, {
    client: ctx.client,
    taskQueue: ctx.stack.taskQueue,
    codecKeys: ctx.stack.codecKeys,
    tuning: { lockPollMs: 200, healthPollMs: 100 },
  });
  const progress = ctx.progress();
  let following = true;
  let aborting = false;
  // One query at a time: answers overtaking each other made the line jump back to an earlier wave.
  let asking = false;
  const ticker = setInterval(() => {
    if (asking) return;
    asking = true;
    getRolloutStatus(ctx.client, handle.workflowId)
      .then((s) => {
        // A query answered after the rollout ended must not print over the next step.
        if (!following) return;
        if (s.phase === 'paused' && !aborting) {
          aborting = true;
          abortRollout(ctx.client, handle.workflowId, `demo: ${s.paused?.reason ?? 'paused'}`, true).catch(() => {});
        }
        const counts = Object.entries(s.counts)
          .filter(([, n]) => n)
          .map(([state, n]) => `${state} ${n}`)
          .join(', ');
        progress.update(
          `  ${s.phase} — wave ${Math.min(s.waves.next + 1, s.waves.total)}/${s.waves.total} — ${counts} — failures ${s.failures.count}/${s.failures.budget}`,
        );
      })
      .catch(() => undefined)
      .finally(() => {
        asking = false;
      });
  }, 250);
  try {
    const outcome = await handle.result().catch((err: unknown) => {
      if (!(err instanceof WorkflowFailedError)) throw err;
      return { failed: err.cause?.message ?? err.message };
    });
    following = false;
    progress.done();
    const { analyses } = await getRolloutStatus(ctx.client, handle.workflowId);
    return {
      workflowId: handle.workflowId,
      runId: handle.firstExecutionRunId,
      outcome,
      ...(spec.analysis ? { analysis: summariseAnalyses(analyses ?? []) } : {}),
    };
  } finally {
    following = false;
    clearInterval(ticker);
    progress.done();
  }
}

/** A rollout of 1.29 to one CVM whose requests fail at 50%: its analysis fails and the CVM is put back. */
async function failingRollout(ctx: DemoContext, prometheusUrl: string): Promise<NonNullable<DemoAnalysis['failing']>> {
  const victim = `${PREFIX}-00`;
  ctx.say(`Now 1.29 to ${victim}, whose requests fail at 50% (a simulator app rule): the analysis should stop it.`);
  const removeRule = await raiseErrorRate(ctx, victim, 0.5);
  try {
    const run = await followRollout(
      ctx,
      rolloutSpec({
        name: 'demo-nginx-129',
        targets: { selector: { name: victim } },
        version: { compose: { inline: compose('1.29-alpine') } },
        strategy: { waveSize: 1, maxParallel: 1 },
        analysis: errorRateAnalysis(prometheusUrl),
      }),
    );
    for (const line of analysisLines(run.analysis!)) ctx.say(line);
    const outcome = 'failed' in run.outcome ? `failed: ${run.outcome.failed}` : run.outcome.outcome;
    ctx.say(`  rollout ${outcome}`);
    return { workflowId: run.workflowId, outcome, analysis: run.analysis! };
  } finally {
    await removeRule();
  }
}

export const rolloutWithFailureBudget: DemoStep = {
  title: 'rollout + failure budget',
  usesPrometheus: true,
  async run(ctx) {
    ctx.say(
      `A fleet of ${SIZE} apps (${PREFIX}-00…) on nginx 1.27; a rollout of 1.28 in waves of 2, failure budget 1.`,
    );
    // Waves are measured on their new version's series, which appear once updated: nothing to wait for here.
    const [local] = await Promise.all([ctx.prometheus(), createFleet(ctx)]);
    const prometheusUrl = 'prometheus' in local ? local.prometheus.url : undefined;
    const unmeasured = 'unavailable' in local ? `${local.unavailable}: waves are gated by HTTP health only` : undefined;
    ctx.say(
      unmeasured
        ? `  ${unmeasured}.`
        : `Prometheus at ${prometheusUrl} scrapes every CVM; each wave must keep its error rate under 5%.`,
    );
    const victim = `${PREFIX}-01`;
    ctx.stack.sim.addFaults({ cvms: [{ cvm: victim, crashAfterMs: 20_000, count: 1 }] });
    ctx.say(`Injected fault: ${victim} crashes 20 s (simulated) after its update.`);
    const run = await followRollout(
      ctx,
      rolloutSpec({
        name: 'demo-nginx-128',
        targets: { selector: { name: `${PREFIX}-*` } },
        version: { compose: { inline: compose('1.28-alpine') } },
        strategy: { waveSize: 2, maxParallel: 2, maxUnavailable: 2 },
        failureBudget: 1,
        ...(prometheusUrl ? { analysis: errorRateAnalysis(prometheusUrl) } : {}),
      }),
    );
    if ('failed' in run.outcome) throw new Error(`the rollout failed: ${run.outcome.failed}`);
    const result = run.outcome;
    for (const c of result.cvms.filter((c) => c.reason)) ctx.say(`  ${c.name}: ${c.state} — ${c.reason}`);
    if (run.analysis) for (const line of analysisLines(run.analysis)) ctx.say(line);
    ctx.say(`  rollout ${result.outcome}: ${counted(result.counts)}`);
    const analysis: DemoAnalysis =
      run.analysis && prometheusUrl
        ? { ...run.analysis, failing: await failingRollout(ctx, prometheusUrl) }
        : {
            provider: 'none',
            verdict: 'none',
            reason: unmeasured ?? 'no analysis',
          };
    const verdicts = analysis.failing
      ? `; analysis ${analysis.verdict}, then ${analysis.failing.analysis.verdict}`
      : '';
    return {
      workflowId: run.workflowId,
      runId: run.runId,
      outcome: `${result.outcome} (${counted(result.counts)})${verdicts}`,
      analysis,
    };
  },
};
