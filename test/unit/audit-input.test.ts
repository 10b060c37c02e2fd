// One rule for what operators hand to running workflows: power overrides and rollout overrides refuse the same
// notes and instants (issue 24: only power used to refuse 2026-02-30 and overrides longer than 90 days).
import { describe, expect, it } from 'vitest';
import { auditEntry, requestReason, UNKNOWN_ACTOR } from '../../src/domain/audit-input';
import { checkLeaseUntil, checkNote as powerNote } from '../../src/workflows/power-decide';
import { checkUntil, checkNote as rolloutNote } from '../../src/workflows/rollout-plan';

const now = Date.parse('2026-03-02T08:00:00Z');

describe.each([
  ['power', checkLeaseUntil, powerNote],
  ['rollout', checkUntil, rolloutNote],
])('%s control requests', (_kind, until, note) => {
  it.each([
    ['2026-02-30T09:00:00Z', /not a real date-time/],
    ['2026-06-02T09:00Z', /more than 90 days/],
    ['2026-03-02T09:00', /with an offset/],
    ['2026-03-02T07:00Z', /not in the future/],
  ])('refuses until %s', (text, message) => {
    expect(() => until(text, now)).toThrow(message);
  });

  it('accepts an offset with or without its colon', () => {
    expect(until('2026-03-02T10:00+01:00', now)).toBe(Date.parse('2026-03-02T09:00:00Z'));
    expect(until('2026-03-02T10:00+0100', now)).toBe(Date.parse('2026-03-02T09:00:00Z'));
  });

  it('asks for a note where required and keeps it under 500 characters', () => {
    expect(() => note('  ', true)).toThrow(/a note is required/);
    expect(() => note(42, false)).toThrow(/note must be text/);
    expect(() => note('x'.repeat(501), false)).toThrow(/under 500/);
    expect(note(' why ', true)).toBe('why');
  });
});

describe('one audit vocabulary: {by, reason, at}, with note as the older name of reason', () => {
  it('takes reason, or note from older clients, with reason winning', () => {
    expect(requestReason({ reason: ' why ' }, true)).toBe('why');
    expect(requestReason({ note: 'old client' }, true)).toBe('old client');
    expect(requestReason({ reason: 'new', note: 'old' }, true)).toBe('new');
    expect(() => requestReason({}, true)).toThrow(/a note is required/);
    expect(requestReason(undefined, false)).toBe('');
  });

  it('records who (or unknown), why and when on the workflow clock', () => {
    const now = Date.UTC(2026, 0, 5, 10, 0, 0);
    expect(auditEntry({ by: ' ana ', note: 'maintenance' }, true, now)).toEqual({
      by: 'ana',
      reason: 'maintenance',
      at: '2026-01-05T10:00:00.000Z',
    });
    expect(auditEntry({ reason: 'x' }, true, now).by).toBe(UNKNOWN_ACTOR);
    expect(() => auditEntry({ by: 'ana', reason: 'x'.repeat(501) }, true, now)).toThrow(/501 characters/);
  });
});
