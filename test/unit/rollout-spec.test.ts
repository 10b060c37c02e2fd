import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { toRolloutConfig } from '../../src/client/rollout';
import { loadSpecFile, SpecError, validateSpec } from '../../src/spec';

const examples = fileURLToPath(new URL('../../examples', import.meta.url));
const COMPOSE = 'services:\n  web:\n    image: nginx:1.28-alpine\n';

const parse = (fields: Record<string, unknown>) =>
  validateSpec(
    {
      apiVersion: 'cvmflow/v1',
      kind: 'Rollout',
      name: 'web-fleet',
      targets: { apps: ['web-1'] },
      version: { compose: { inline: COMPOSE } },
      ...fields,
    },
    { source: 'rollout.yaml', baseDir: '/specs', kinds: ['Rollout'] },
  );

function problems(fields: Record<string, unknown>): string[] {
  try {
    parse(fields);
  } catch (err) {
    if (err instanceof SpecError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  throw new Error('expected the spec to be rejected');
}

describe('Rollout spec', () => {
  it('examples/rollout.yaml means what its comments say', () => {
    const spec = loadSpecFile(join(examples, 'rollout.yaml'), { kinds: ['Rollout'] });
    expect(spec.targets).toEqual({ apps: ['web-eu-canary'], cvms: [], selector: { name: 'web-*' } });
    expect(spec.strategy).toEqual({
      canary: { size: { count: 1 }, pause: { manual: true } },
      waveSize: { count: 20 },
      maxParallel: 20,
      maxUnavailable: { percent: 10 },
      pause: { ms: 300_000 },
      jitterMs: 10_000,
    });
    expect(spec.health).toMatchObject({
      minHealthyMs: 60_000,
      http: { expectStatus: [200], intervalMs: 10_000, timeoutMs: 5000 },
    });
    expect(spec).toMatchObject({
      failureBudget: { percent: 2 },
      autoRevert: true,
      onBusy: 'wait',
      deadlines: { cvmMs: 900_000, waveMs: 7_200_000 },
    });
    expect(spec.analysis).toMatchObject({
      onFailure: 'abort',
      metrics: [
        { name: 'error-rate', provider: { type: 'prometheus' }, initialDelayMs: 300_000, count: 5, failureLimit: 1 },
        { name: 'smoke', provider: { type: 'job', command: ['./smoke-test.sh', '{app}'] }, timeoutMs: 120_000 },
      ],
    });
    expect(spec.windows?.onWindowEnd).toBe('finish');
    expect(spec.windows?.calendar.dates?.[0]).toMatchObject({ state: 'frozen', from: '2026-12-18' });
  });

  it('defaults: one at a time, as many down as updating, no failures tolerated, revert on, wait for locks', () => {
    const spec = parse({});
    expect(spec.strategy).toEqual({ maxParallel: 1, maxUnavailable: { count: 1 }, pause: { ms: 0 }, jitterMs: 0 });
    expect(spec).toMatchObject({
      failureBudget: { count: 0 },
      autoRevert: true,
      onBusy: 'wait',
      health: { minHealthyMs: 30_000 },
    });
    expect(spec.windows).toBeUndefined();
    // The canary pause defaults to the pause between waves.
    expect(parse({ strategy: { canary: { size: '5%' }, pause: 'manual' } }).strategy.canary).toEqual({
      size: { percent: 5 },
      pause: { manual: true },
    });
  });

  it('the workflow config carries env keys and the sealed env, never values', () => {
    const spec = parse({ version: { env: ['API_TOKEN'] } });
    expect(spec.version).toEqual({ env: { API_TOKEN: { fromEnv: 'API_TOKEN' } } });
    const config = toRolloutConfig(spec, 'cvmflow-sealed-v1.k.abc');
    expect(config.version).toEqual({ allowedEnvs: ['API_TOKEN'], sealedEnv: 'cvmflow-sealed-v1.k.abc' });
    expect(parse({ version: { env: { B: { fromFile: 'b.txt' } } } }).version.env).toEqual({
      B: { fromFile: '/specs/b.txt' },
    });
  });

  it('names the field of every problem, all at once', () => {
    expect(
      problems({
        name: 'Web_Fleet',
        targets: {},
        version: {},
        strategy: { maxParallel: 0, maxUnavailable: '150%', pause: 'later', canray: {} },
        failureBudget: -1,
        onBusy: 'queue',
      }),
    ).toEqual([
      'name: "Web_Fleet" is not a valid rollout name (2 to 63 lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen)',
      'targets: name at least one app (targets.apps), CVM (targets.cvms) or a selector',
      'version: give version.compose, version.env or both: the rollout needs something to change',
      'strategy.maxParallel: expected a whole number of CVMs from 1 to 500, got 0',
      'strategy.maxUnavailable: expected maxUnavailable: a whole number of CVMs (at least 1) or a percentage such as "10%", got "150%"',
      'strategy.pause: expected "manual" or a duration from 0s to 7d (like 30s, 10m), got "later"',
      'strategy.canray: unknown key; did you mean `canary`?',
      'failureBudget: expected the failure budget: a whole number of CVMs (at least 0) or a percentage such as "10%", got -1',
      'onBusy: expected one of wait, skip, got "queue"',
    ]);
  });

  it('checks the window calendar with its own field names and the window states', () => {
    expect(
      problems({
        windows: {
          onWindowEnd: 'stop',
          calendar: {
            timezone: 'Europe/Berln',
            default: 'shut',
            periods: [{ days: ['mon'], start: '09:00', end: '17:00', state: 'open', extra: 1 }],
          },
        },
      }),
    ).toEqual([
      'windows.calendar.timezone: "Europe/Berln" is not an IANA time zone',
      'windows.calendar.periods[0].extra: unknown key',
      // A wrong state is reported alongside the calendar's other problems (the same rule as power schedules).
      'windows.calendar.default: expected open, closed or frozen, got "shut"',
      'windows.onWindowEnd: expected one of finish, pause, got "stop"',
    ]);
    expect(
      problems({
        windows: {
          calendar: {
            timezone: 'UTC',
            default: 'shut',
            dates: [{ from: '2026-12-24', to: '2026-12-26', state: 'holiday' }],
          },
        },
      }),
    ).toEqual([
      'windows.calendar.default: expected open, closed or frozen, got "shut"',
      'windows.calendar.dates[0].state: expected open, closed or frozen, got "holiday"',
    ]);
  });

  it('never echoes an inline env value', () => {
    const found = problems({ version: { env: { API_TOKEN: 'hunter2-secret' } } });
    expect(found.join('\n')).not.toContain('hunter2');
    expect(found).toEqual([
      'version.env.API_TOKEN: inline values are not allowed (they would live in the spec file); use fromEnv or fromFile',
    ]);
  });
});
