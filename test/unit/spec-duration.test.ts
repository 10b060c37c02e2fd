import { describe, expect, it } from 'vitest';
import { durationSchema, formatDuration, parseDuration } from '../../src/spec';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['90s', 90_000],
    ['10m', 600_000],
    ['1h30m', 5_400_000],
    ['2d', 172_800_000],
    ['1d2h3m4s5ms', 93_784_005],
    ['0s', 0],
    ['10m500ms', 600_500],
    ['0090s', 90_000],
  ])('%s → %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    ['', 'empty'],
    ['90', 'no unit'],
    ['1.5h', 'fraction'],
    ['30m1h', 'units out of order'],
    ['1h1h', 'unit twice'],
    ['1h 30m', 'space'],
    [' 90s', 'leading space'],
    ['90S', 'upper-case unit'],
    ['-5s', 'negative'],
    ['1w', 'unknown unit'],
    ['10sm', 'garbage after'],
    ['99999999999999999d', 'beyond safe integers'],
  ])('rejects %j (%s)', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [500, '500ms'],
    [90_000, '1m30s'],
    [3_600_000, '1h'],
    [93_784_005, '1d2h3m4s5ms'],
  ])('%d ms → %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });
});

describe('durationSchema', () => {
  const schema = durationSchema({ min: '10s', max: '1h' });

  it('parses within bounds, inclusive', () => {
    expect(schema.parse('10s')).toBe(10_000);
    expect(schema.parse('1h')).toBe(3_600_000);
  });

  it.each([
    ['5s', 'expected a duration from 10s to 1h (like 90s, 10m, 1h30m), got "5s"'],
    ['61m', 'expected a duration from 10s to 1h (like 90s, 10m, 1h30m), got "61m"'],
    ['ten minutes', 'expected a duration from 10s to 1h (like 90s, 10m, 1h30m), got "ten minutes"'],
    [90, 'expected a duration from 10s to 1h (like 90s, 10m, 1h30m), got 90 (add a unit, e.g. 90s)'],
  ])('names the allowed form for %j', (input, message) => {
    const result = schema.safeParse(input);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.message)).toEqual([message]);
  });

  it('refuses bounds that are not durations', () => {
    expect(() => durationSchema({ min: '10', max: '1h' })).toThrow(/invalid duration bound/);
  });
});
