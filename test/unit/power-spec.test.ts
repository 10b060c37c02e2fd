// `kind: PowerSchedule` specs: defaults, the power states on top of the calendar, and one problem per mistake.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { toPowerConfig } from '../../src/client/power';
import { loadSpecFile, type Problem, SpecError, validateSpec } from '../../src/spec';

const options = { source: 'power.yaml', baseDir: '/tmp', kinds: ['PowerSchedule' as const] };
const MINIMAL = {
  apiVersion: 'cvmflow/v1',
  kind: 'PowerSchedule',
  name: 'office-hours',
  targets: { apps: ['staging-api'] },
  calendar: { timezone: 'Europe/Berlin', default: 'stopped' },
};

function problemsOf(value: unknown): Problem[] {
  try {
    validateSpec(value, options);
  } catch (err) {
    expect(err).toBeInstanceOf(SpecError);
    return (err as SpecError).problems;
  }
  throw new Error('expected a SpecError');
}

describe('PowerSchedule spec', () => {
  it('fills in the defaults (seed 001: waitForState true, waitTimeout 600 s)', () => {
    expect(validateSpec(MINIMAL, options)).toEqual({
      ...MINIMAL,
      targets: { apps: ['staging-api'], cvms: [] },
      mode: 'enforce',
      graceMs: 300_000,
      driftCheckIntervalMs: 300_000,
      stop: { action: 'shutdown', shutdownTimeoutMs: 120_000 },
      waitForState: true,
      waitTimeoutMs: 600_000,
      onBusy: 'defer',
      retry: { initialIntervalMs: 60_000, maximumIntervalMs: 1_800_000 },
    });
  });

  it('reads every field', () => {
    const spec = validateSpec(
      {
        ...MINIMAL,
        targets: { cvms: ['7f3a1c2e-1111-4222-8333-444455556666'] },
        mode: 'transitions',
        grace: '0s',
        driftCheckInterval: '30s',
        stop: { action: 'stop', shutdownTimeout: '1m' },
        waitForState: false,
        waitTimeout: '15m',
        onBusy: 'skip',
        retry: { initialInterval: '10s', maximumInterval: '10m' },
      },
      options,
    );
    expect(toPowerConfig(spec)).toEqual({
      name: 'office-hours',
      targets: { apps: [], cvms: ['7f3a1c2e-1111-4222-8333-444455556666'] },
      calendar: MINIMAL.calendar,
      mode: 'transitions',
      graceMs: 0,
      driftCheckIntervalMs: 30_000,
      stop: { action: 'stop', shutdownTimeoutMs: 60_000 },
      waitForState: false,
      waitTimeoutMs: 900_000,
      onBusy: 'skip',
      retry: { initialIntervalMs: 10_000, maximumIntervalMs: 600_000 },
    });
  });

  it('accepts restart in one-off windows only', () => {
    const calendar = {
      timezone: 'UTC',
      default: 'running',
      windows: [{ start: '2026-03-01T02:00', end: '2026-03-01T02:10', state: 'restart' }],
    };
    expect(validateSpec({ ...MINIMAL, calendar }, options).calendar).toEqual(calendar);
    expect(problemsOf({ ...MINIMAL, calendar: { ...calendar, default: 'restart' } })).toEqual([
      {
        path: 'calendar.default',
        message: 'expected running or stopped, got "restart" (restart is only allowed in a one-off window)',
      },
    ]);
  });

  it('names every problem at once, calendar problems included', () => {
    expect(
      problemsOf({
        ...MINIMAL,
        name: 'Office_Hours',
        targets: { apps: ['a-app', 'a-app'], vms: [] },
        calendar: {
          timezone: 'Europe/Berln',
          default: 'on',
          periods: [{ days: ['mon'], start: '08:00', end: '25:00', state: 'up' }],
          peroids: [],
        },
        mode: 'enforced',
        grace: 300,
        waitTimeout: '3h',
        stop: { action: 'halt' },
        retry: { initialInterval: '10m', maximumInterval: '1m' },
      }),
    ).toEqual([
      { path: 'name', message: expect.stringMatching(/^"Office_Hours" is not a valid schedule name/) },
      { path: 'targets.apps[1]', message: 'a-app is listed twice (also at [0])' },
      { path: 'targets.vms', message: 'unknown key; did you mean `cvms`?' },
      { path: 'calendar.timezone', message: '"Europe/Berln" is not an IANA time zone' },
      { path: 'calendar.periods[0].end', message: '"25:00" is not a time HH:MM between 00:00 and 24:00' },
      { path: 'calendar.peroids', message: 'unknown key' },
      { path: 'calendar.default', message: 'expected running or stopped, got "on"' },
      { path: 'calendar.periods[0].state', message: 'expected running or stopped, got "up"' },
      { path: 'mode', message: 'expected one of enforce, transitions, got "enforced"; did you mean `enforce`?' },
      {
        path: 'grace',
        message: 'expected a duration from 0s to 1d (like 90s, 10m, 1h30m), got 300 (add a unit, e.g. 300s)',
      },
      { path: 'stop.action', message: 'expected one of shutdown, stop, got "halt"' },
      { path: 'waitTimeout', message: 'expected a duration from 1s to 2h (like 90s, 10m, 1h30m), got "3h"' },
      { path: 'retry.maximumInterval', message: 'expected at least retry.initialInterval (10m), got 1m' },
    ]);
  });

  it('needs at least one target and a calendar', () => {
    const { calendar: _calendar, ...noCalendar } = MINIMAL;
    expect(problemsOf({ ...noCalendar, targets: {} })).toEqual([
      { path: 'targets', message: 'name at least one app (targets.apps) or CVM (targets.cvms)' },
      {
        path: 'calendar',
        message: 'required; expected a calendar mapping with timezone, default, periods, windows, dates',
      },
    ]);
  });

  it('examples/power.yaml means what its comments say', () => {
    const file = join(fileURLToPath(new URL('../../examples', import.meta.url)), 'power.yaml');
    const spec = loadSpecFile(file, { kinds: ['PowerSchedule'] });
    expect(spec).toMatchObject({
      name: 'office-hours',
      mode: 'enforce',
      onBusy: 'defer',
      waitTimeoutMs: 600_000,
      targets: { apps: ['staging-api'] },
    });
    expect(spec.calendar.windows?.map((w) => w.state)).toEqual(['stopped', 'restart']);
  });
});
