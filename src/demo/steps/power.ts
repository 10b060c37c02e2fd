// Tour step of the maintenance-window power schedules: a calendar on a 60× clock stops the app for a maintenance
// window; an operator's override (a lease with an expiry) brings it back before the window ends.
import { applyPowerSchedule, deletePowerSchedule, getPowerStatus, holdPower } from '../../client/power';
import { validateSpec } from '../../spec';
import type { PowerScheduleSpec } from '../../spec/power';
import { powerWorkflowId } from '../../workflows/power-types';
import type { DemoContext, DemoStep } from '../types';
import { until } from '../util';
import { DEMO_APP } from './deploy';

const SPEED = 60;
const MINUTE = 60_000;
const wall = (ms: number) => new Date(ms).toISOString().slice(0, 16);

function appStates(ctx: DemoContext, app: string): string[] {
  return ctx.stack.sim
    .cvms()
    .filter((c) => c.name === app)
    .map((c) => c.status);
}

const allAre = (ctx: DemoContext, app: string, status: string) => () => {
  const states = appStates(ctx, app);
  return states.length > 0 && states.every((s) => s === status);
};

export const powerScheduleWithOverride: DemoStep = {
  title: 'power schedule + override',
  async run(ctx) {
    const app = (ctx.shared.get('app') as string | undefined) ?? DEMO_APP;
    const name = 'demo-maintenance';
    const anchor = Math.floor(Date.now() / MINUTE) * MINUTE;
    const spec = validateSpec(
      {
        apiVersion: 'cvmflow/v1',
        kind: 'PowerSchedule',
        name,
        targets: { apps: [app] },
        calendar: {
          timezone: 'UTC',
          default: 'running',
          windows: [
            {
              start: wall(anchor + MINUTE),
              end: wall(anchor + 60 * MINUTE),
              state: 'stopped',
              note: 'host maintenance',
            },
          ],
        },
        stop: { action: 'stop' },
      },
      { source: 'demo', baseDir: '.', kinds: ['PowerSchedule'] },
    ) as PowerScheduleSpec;
    ctx.say(
      `A power schedule for ${app} on a ${SPEED}× clock (a calendar minute is a real second): running by default, stopped for a maintenance window from ${wall(anchor + MINUTE)} to ${wall(anchor + 60 * MINUTE)} UTC.`,
    );
    const applied = await applyPowerSchedule(spec, {
      client: ctx.client,
      taskQueue: ctx.stack.taskQueue,
      clock: { realAnchorMs: Date.now(), virtualAnchorMs: anchor, speed: SPEED },
      tuning: { deferRecheckMs: 1_000 },
    });
    for (const t of applied.nextTransitions.slice(0, 2)) ctx.say(`  next: ${t.local} → ${t.state} (${t.source})`);
    const progress = ctx.progress();
    const show = () => progress.update(`  ${app}: ${appStates(ctx, app).join(', ')}`);
    const ticker = setInterval(show, 200);
    try {
      await until('the maintenance window to stop the CVMs', allAre(ctx, app, 'stopped'));
      show();
      progress.done();
      const leaseEnd = new Date(anchor + 20 * MINUTE).toISOString().replace('.000Z', 'Z');
      ctx.say(
        `The window has begun and the CVMs are stopped. An operator needs them now: keep running until ${leaseEnd} (a lease; the calendar takes over again when it expires).`,
      );
      await holdPower(ctx.client, name, 'keepRunning', leaseEnd, 'release night');
      await until('the override to start the CVMs', allAre(ctx, app, 'running'));
      show();
    } finally {
      clearInterval(ticker);
      progress.done();
    }
    const status = await getPowerStatus(ctx.client, name);
    for (const o of status.overrides) ctx.say(`  override ${o.kind} until ${o.until?.local ?? '-'}: ${o.reason}`);
    const { runId } = await ctx.client.workflow.getHandle(powerWorkflowId(name)).describe();
    await deletePowerSchedule(ctx.client, name);
    ctx.say('Schedule deleted: cvmflow stops managing the CVMs and leaves them as they are.');
    return { workflowId: powerWorkflowId(name), runId, outcome: 'stopped by window, restarted by override' };
  },
};
