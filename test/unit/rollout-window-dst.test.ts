// Deploy windows across the real 2026 DST transitions, with the rules of docs/calendar.md: a wall time in the
// spring-forward gap happens at the transition, a repeated wall time at its first occurrence, never twice.
import { describe, expect, it } from 'vitest';
import type { Calendar, WeeklyPeriod } from '../../src/calendar';
import { windowGate } from '../../src/workflows/rollout-plan';

const at = (iso: string) => Date.parse(iso);
const weekly = (timezone: string, period: Omit<WeeklyPeriod, 'state'>): Calendar => ({
  timezone,
  default: 'closed',
  periods: [{ ...period, state: 'open' }],
});
const open = (cal: Calendar, iso: string) => windowGate(cal, [], at(iso)).open;

describe('deploy windows on 2026 DST transitions', () => {
  it('Europe/Berlin spring forward (2026-03-29 02:00 → 03:00): a window from 02:30 opens at the transition', () => {
    const cal = weekly('Europe/Berlin', { days: ['sun'], start: '02:30', end: '04:00' });
    const before = windowGate(cal, [], at('2026-03-29T00:59Z'));
    expect(before).toMatchObject({ open: false, recheckAtMs: at('2026-03-29T01:00Z') });
    expect(open(cal, '2026-03-29T01:00Z')).toBe(true);
    expect(open(cal, '2026-03-29T01:59Z')).toBe(true);
    expect(open(cal, '2026-03-29T02:00Z')).toBe(false);
  });

  it('Europe/Berlin: a window wholly inside the gap does not open that day, but does the week before', () => {
    const cal = weekly('Europe/Berlin', { days: ['sun'], start: '02:15', end: '02:45' });
    expect(open(cal, '2026-03-22T01:30Z')).toBe(true);
    for (const t of ['2026-03-29T00:30Z', '2026-03-29T01:00Z', '2026-03-29T01:20Z']) expect(open(cal, t)).toBe(false);
    expect(windowGate(cal, [], at('2026-03-28T12:00Z')).recheckAtMs).toBe(at('2026-04-05T00:15Z'));
  });

  it('Europe/Berlin fall back (2026-10-25 03:00 → 02:00): a window ending 02:30 ends at the first 02:30 and stays shut', () => {
    const cal = weekly('Europe/Berlin', { days: ['sun'], start: '01:00', end: '02:30' });
    expect(open(cal, '2026-10-24T23:00Z')).toBe(true);
    expect(windowGate(cal, [], at('2026-10-25T00:00Z')).recheckAtMs).toBe(at('2026-10-25T00:30Z'));
    expect(open(cal, '2026-10-25T00:30Z')).toBe(false);
    // The second 02:00–02:30 (CET) is not inside the window again.
    expect(open(cal, '2026-10-25T01:15Z')).toBe(false);
  });

  it('Europe/Berlin: a freeze on the spring-forward date lasts 23 hours; one on the fall-back date 25', () => {
    const frozen = (from: string): Calendar => ({
      timezone: 'Europe/Berlin',
      default: 'open',
      dates: [{ from, to: from, state: 'frozen' }],
    });
    const spring = frozen('2026-03-29');
    expect(windowGate(spring, [], at('2026-03-28T22:59Z')).state).toBe('open');
    expect(windowGate(spring, [], at('2026-03-28T23:00Z'))).toMatchObject({
      state: 'frozen',
      recheckAtMs: at('2026-03-29T22:00Z'),
    });
    const autumn = frozen('2026-10-25');
    expect(windowGate(autumn, [], at('2026-10-24T22:00Z'))).toMatchObject({
      state: 'frozen',
      recheckAtMs: at('2026-10-25T23:00Z'),
    });
  });

  it('America/New_York spring forward (2026-03-08): a 02:00–03:00 window does not happen; fall back (11-01): office hours shift by the offset', () => {
    const gap = weekly('America/New_York', { days: ['sun'], start: '02:00', end: '03:00' });
    for (const t of ['2026-03-08T06:59Z', '2026-03-08T07:00Z', '2026-03-08T07:30Z']) expect(open(gap, t)).toBe(false);
    expect(open(gap, '2026-03-01T07:30Z')).toBe(true);
    const office = weekly('America/New_York', { days: ['mon-fri'], start: '08:00', end: '18:00' });
    expect(open(office, '2026-10-30T12:00Z')).toBe(true);
    expect(open(office, '2026-11-02T12:30Z')).toBe(false);
    expect(open(office, '2026-11-02T13:00Z')).toBe(true);
    expect(windowGate(office, [], at('2026-10-31T12:00Z')).recheckAtMs).toBe(at('2026-11-02T13:00Z'));
  });

  it('Australia/Lord_Howe half-hour shift (2026-10-04 02:00 → 02:30): a window from 02:15 opens at the transition', () => {
    const cal = weekly('Australia/Lord_Howe', { days: ['sun'], start: '02:15', end: '03:00' });
    expect(windowGate(cal, [], at('2026-10-03T15:00Z'))).toMatchObject({
      open: false,
      recheckAtMs: at('2026-10-03T15:30Z'),
    });
    expect(open(cal, '2026-10-03T15:30Z')).toBe(true);
    expect(open(cal, '2026-10-03T16:00Z')).toBe(false);
  });
});
