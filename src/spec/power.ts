// `kind: PowerSchedule`: a calendar of desired power states for a set of CVMs and apps, converged by the
// powerSchedule workflow like Terraform's phala_cvm_power (seed 001), with drift detection and expiring overrides.
// The calendar format is src/calendar's (docs/calendar.md); this file adds what power means on top of it.
import { z } from 'zod';
import type { Calendar } from '../calendar';
import { type MetricSpec, metricsSchema } from './analysis';
import { calendarWithStates } from './calendar';
import { durationSchema, formatDuration } from './duration';
import {
  API_VERSION,
  choice,
  expected,
  resourceName,
  type SpecContext,
  strictObject,
  text,
  uniqueList,
} from './schema';

export interface PowerScheduleSpec {
  apiVersion: typeof API_VERSION;
  kind: 'PowerSchedule';
  /** The schedule's name; its workflow is `power-<name>`. */
  name: string;
  targets: { apps: string[]; cvms: string[] };
  calendar: Calendar;
  mode: 'enforce' | 'transitions';
  graceMs: number;
  driftCheckIntervalMs: number;
  stop: { action: 'shutdown' | 'stop'; shutdownTimeoutMs: number };
  waitForState: boolean;
  waitTimeoutMs: number;
  onBusy: 'defer' | 'skip';
  retry: { initialIntervalMs: number; maximumIntervalMs: number };
  /** Metrics measured after the schedule starts CVMs (docs/analysis.md); the verdict is reported, nothing undone. */
  analysis?: { afterStart: { metrics: MetricSpec[] } };
}

const POWER_STATES = ['running', 'stopped'] as const;
// `restart` is an event, not a state one could stay in; only a one-off window can ask for it.
const WINDOW_STATES = [...POWER_STATES, 'restart'] as const;

const name = resourceName('schedule');

const targets = strictObject({
  apps: uniqueList('app names', text('an app name (the name its CVMs carry)')),
  cvms: uniqueList('CVM ids', text('a CVM id: its vm_uuid, cvm_… id or instance id')),
}).superRefine((t, ctx) => {
  if (t.apps.length + t.cvms.length === 0) {
    ctx.addIssue({ code: 'custom', message: 'name at least one app (targets.apps) or CVM (targets.cvms)', input: t });
  }
});

/** Periods, dates and the default are running or stopped; a one-off window may also be restart. */
const calendar = calendarWithStates({ regular: POWER_STATES, windows: WINDOW_STATES });

const stop = strictObject({
  action: choice(['shutdown', 'stop']).default('shutdown'),
  shutdownTimeout: durationSchema({ min: '1s', max: '1h' }).prefault('2m'),
})
  .transform((s) => ({ action: s.action, shutdownTimeoutMs: s.shutdownTimeout }))
  .prefault({});

const retry = strictObject({
  initialInterval: durationSchema({ min: '1s', max: '1d' }).prefault('1m'),
  maximumInterval: durationSchema({ min: '1s', max: '7d' }).prefault('30m'),
})
  .transform((r, ctx) => {
    if (r.maximumInterval < r.initialInterval) {
      const message = `expected at least retry.initialInterval (${formatDuration(r.initialInterval)}), got ${formatDuration(r.maximumInterval)}`;
      ctx.addIssue({ code: 'custom', path: ['maximumInterval'], message, input: r.maximumInterval });
      return z.NEVER;
    }
    return { initialIntervalMs: r.initialInterval, maximumIntervalMs: r.maximumInterval };
  })
  .prefault({});

function buildPowerScheduleSchema(ctx: SpecContext) {
  return strictObject(
    {
      apiVersion: z.literal(API_VERSION, { error: expected(`"${API_VERSION}"`) }),
      kind: z.literal('PowerSchedule', { error: expected('"PowerSchedule"') }),
      name,
      targets,
      calendar,
      mode: choice(['enforce', 'transitions']).default('enforce'),
      grace: durationSchema({ min: '0s', max: '1d' }).prefault('5m'),
      driftCheckInterval: durationSchema({ min: '1s', max: '1d' }).prefault('5m'),
      stop,
      waitForState: z.boolean({ error: expected('true or false') }).default(true),
      waitTimeout: durationSchema({ min: '1s', max: '2h' }).prefault('600s'),
      onBusy: choice(['defer', 'skip']).default('defer'),
      retry,
      analysis: strictObject({ afterStart: strictObject({ metrics: metricsSchema(ctx) }) }).optional(),
    },
    expected('a mapping with apiVersion, kind, name, targets, calendar, …'),
  ).transform(
    ({ grace, driftCheckInterval, waitTimeout, ...spec }): PowerScheduleSpec => ({
      ...spec,
      graceMs: grace,
      driftCheckIntervalMs: driftCheckInterval,
      waitTimeoutMs: waitTimeout,
    }),
  );
}

export type PowerScheduleSpecInput = z.input<ReturnType<typeof buildPowerScheduleSchema>>;

/** The schema of `kind: PowerSchedule`; `ctx.baseDir` resolves analysis header `fromFile` paths. */
export const powerScheduleSchema: (ctx: SpecContext) => z.ZodType<PowerScheduleSpec, PowerScheduleSpecInput> =
  buildPowerScheduleSchema;
