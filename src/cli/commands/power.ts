// `cvmflow power …`: maintenance-window power schedules. Thin: parse flags, call src/client/power.ts, render.
import type { Command } from 'commander';
import {
  applyPowerSchedule,
  deletePowerSchedule,
  getPowerStatus,
  holdPower,
  leaseInstant,
  PowerRequestRejectedError,
  pausePower,
  resumePower,
  skipNextTransition,
} from '../../client/power';
import { loadSpecFile } from '../../spec';
import type {
  ApplyResult,
  CvmDecision,
  OverrideView,
  PowerRecord,
  PowerStatus,
  TransitionView,
} from '../../workflows/power-types';
import { renderAnalysis } from '../analysis-view';
import { type AuditFlags, addAuditFlags, auditRequest } from '../audit-flags';
import { describeCommand } from '../command-table';
import { UsageError } from '../errors';
import { report } from '../output';
import { withClient } from '../temporal';
import { registerPowerPreview } from './power-preview';

/** A rejected request is the user's to fix (exit 2); anything else is a failure (exit 1). */
async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof PowerRequestRejectedError) throw new UsageError(`rejected: ${err.message}`);
    throw err;
  }
}

function renderDecision(d: CvmDecision): string {
  const what = d.decision === 'none' ? 'no change' : d.decision === 'defer' ? 'deferred' : d.decision;
  return `  ${d.name} (${d.cvmId})  ${d.actual} → ${d.desired}: ${what}${d.drift ? ' [drift]' : ''} — ${d.reason}`;
}

function renderTransition(t: TransitionView): string {
  return `  ${t.local} → ${t.state}, ${t.source}${t.suppressedBy ? ` (held by ${t.suppressedBy})` : ''}`;
}

function renderOverride(o: OverrideView): string {
  const until = o.until ? ` until ${o.until.local}` : o.kind === 'pause' ? ' until resumed' : '';
  return `  ${o.id} ${o.kind}${until} — ${o.reason} (by ${o.by})`;
}

function renderRecord(r: PowerRecord): string {
  const outcome = r.outcome ? ` [${r.outcome}]` : '';
  return `  ${new Date(r.atMs).toISOString()} ${r.kind}${outcome}: ${r.reason}`;
}

function renderApply(name: string, r: ApplyResult & { workflowId: string }): string[] {
  const e = r.evaluation;
  const lines = [
    r.created
      ? `created power schedule ${name} (${r.workflowId})`
      : `updated power schedule ${name}${r.changed.length ? ` (changed: ${r.changed.join(', ')})` : ' (no changes)'}`,
    `now: desired ${e.desired.state}${e.desired.restart ? ' (restart window)' : ''} — ${e.desired.cause}`,
  ];
  if (e.readError) lines.push(`  could not read the targets yet: ${e.readError}`);
  lines.push(...e.decisions.map(renderDecision));
  for (const u of e.unresolved) lines.push(`  ${u.target}: ${u.reason}`);
  lines.push(
    'next:',
    ...(r.nextTransitions.length ? r.nextTransitions.map(renderTransition) : ['  no transition in the next 400 days']),
  );
  return lines;
}

function renderStatus(s: PowerStatus, recent: number): string[] {
  const lines = [
    `${s.name}: ${s.mode}${s.paused ? `, PAUSED since ${new Date(s.paused.sinceMs).toISOString()} (${s.paused.reason}, by ${s.paused.by})` : ''}`,
    `now ${s.now.local}: desired ${s.desired.state}${s.desired.restart ? ' (restart window)' : ''} — ${s.desired.cause}`,
    'cvms:',
  ];
  for (const c of s.cvms) {
    const notes = [
      c.inState ? 'ok' : `want ${c.desired}`,
      c.drift ? `drift since ${c.drift.since}` : '',
      c.inFlight ? `${c.inFlight} in progress` : '',
      c.deferred ? `deferred (${c.deferred})` : '',
      c.failures ? `${c.failures} failure(s), last: ${c.lastError}; retry at ${c.retryAt}` : '',
    ].filter(Boolean);
    lines.push(`  ${c.name} (${c.cvmId})  ${c.actual}  ${notes.join('; ')}`);
  }
  for (const u of s.unresolved) lines.push(`  ${u.target}: ${u.reason}`);
  if (s.overrides.length) lines.push('overrides:', ...s.overrides.map(renderOverride));
  lines.push(
    'next:',
    ...(s.nextTransitions.length ? s.nextTransitions.map(renderTransition) : ['  none in the next 400 days']),
  );
  const a = s.analyses?.at(-1);
  if (a) lines.push(...renderAnalysis(`after ${a.action} of ${a.cvms.map((c) => c.name).join(', ')}`, a));
  const shown = s.recent.slice(-recent);
  if (shown.length)
    lines.push(`recent (${shown.length} of ${s.recent.length + s.summary.folded}):`, ...shown.map(renderRecord));
  return lines;
}

export function registerPowerCommand(program: Command): void {
  const power = program
    .command('power')
    .description(describeCommand('power'))
    .addHelpText(
      'after',
      `
Examples:
  cvmflow power apply -f examples/power.yaml
  cvmflow power status office-hours
  cvmflow power override office-hours --keep-running-until 2026-03-02T22:00 --reason "release night"
  cvmflow power pause office-hours --reason "incident 4711"
  cvmflow power delete office-hours       # stops managing; changes no CVM

Overrides are leases: they end by themselves and the calendar takes over again. A schedule never acts on an app
while a deployment of it runs (\`deploy-<app>\`); the action waits for the deployment to end. Every override, pause
and resume records who asked (--by, default your user name) and why (--reason).`,
    );

  registerPowerPreview(power);

  power
    .command('apply')
    .description('create the schedule, or update the running one; prints what changes now and next')
    .option('-f, --file <schedule.yaml>', 'PowerSchedule spec (YAML or JSON); see examples/power.yaml')
    .option('--json', 'print JSON')
    .action(async (opts: { file?: string; json?: boolean }) => {
      if (!opts.file)
        throw new UsageError('--file <schedule.yaml> is required (e.g. cvmflow power apply -f examples/power.yaml)');
      const spec = loadSpecFile(opts.file, { kinds: ['PowerSchedule'] });
      await withClient(async (client, config) => {
        const result = await guarded(() => applyPowerSchedule(spec, { client, taskQueue: config.taskQueue }));
        report(opts.json, result, () => renderApply(spec.name, result));
      });
    });

  power
    .command('status <name>')
    .description('desired vs actual per CVM, drift, overrides, next transitions and recent actions')
    .option('--recent <n>', 'how many recent records to show', '10')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { json?: boolean; recent: string }) => {
      await withClient(async (client) => {
        const status = await guarded(() => getPowerStatus(client, name));
        report(opts.json, status, () => renderStatus(status, Math.max(0, Number(opts.recent) || 0)));
      });
    });

  addAuditFlags(
    power
      .command('override <name>')
      .description('hold the CVMs running or stopped until a time, or skip the next transition')
      .option('--keep-running-until <time>', 'ISO 8601; without an offset it is local time in the calendar zone')
      .option('--keep-stopped-until <time>', 'ISO 8601; without an offset it is local time in the calendar zone')
      .option('--skip-next', 'hold the current state over the next transition, until the one after'),
    'why (required; kept in the audit trail)',
  )
    .option('--json', 'print JSON')
    .action(
      async (
        name: string,
        opts: AuditFlags & { keepRunningUntil?: string; keepStoppedUntil?: string; skipNext?: boolean; json?: boolean },
      ) => {
        const chosen = [opts.keepRunningUntil, opts.keepStoppedUntil, opts.skipNext].filter((o) => o !== undefined);
        if (chosen.length !== 1)
          throw new UsageError('give exactly one of --keep-running-until, --keep-stopped-until, --skip-next');
        const audit = auditRequest(opts, true);
        await withClient(async (client) => {
          const override = await guarded(async () => {
            if (opts.skipNext) return skipNextTransition(client, name, audit);
            const { timezone } = await getPowerStatus(client, name);
            const kind = opts.keepRunningUntil !== undefined ? 'keepRunning' : 'keepStopped';
            const until = leaseInstant((opts.keepRunningUntil ?? opts.keepStoppedUntil)!, timezone);
            return holdPower(client, name, kind, until, audit);
          });
          report(opts.json, override, () => `override set:\n${renderOverride(override)}`);
        });
      },
    );

  addAuditFlags(
    power.command('pause <name>').description('stop acting (drift is still reported) until resume'),
    'why (kept in the audit trail)',
  )
    .option('--json', 'print JSON')
    .action(async (name: string, opts: AuditFlags & { json?: boolean }) => {
      const audit = auditRequest(opts, false);
      await withClient(async (client) => {
        const o = await guarded(() => pausePower(client, name, audit));
        report(opts.json, o, () => `paused ${name}: ${o.reason} (by ${o.by})`);
      });
    });

  addAuditFlags(
    power.command('resume <name>').description('act again; transitions missed while paused are applied now'),
    'why (kept in the audit trail)',
  )
    .option('--json', 'print JSON')
    .action(async (name: string, opts: AuditFlags & { json?: boolean }) => {
      const audit = auditRequest(opts, false);
      await withClient(async (client) => {
        const r = await guarded(() => resumePower(client, name, audit));
        report(opts.json, r, () => `resumed ${name} after ${Math.round(r.pausedForMs / 1000)}s`);
      });
    });

  power
    .command('delete <name>')
    .description('stop managing the CVMs; changes no CVM (like deleting a Terraform phala_cvm_power)')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      await withClient(async (client) => {
        const result = await guarded(() => deletePowerSchedule(client, name));
        report(
          opts.json,
          result,
          () =>
            `deleted power schedule ${name}; its CVMs stay as they are (${result.recent.length + result.summary.folded} records kept in its history)`,
        );
      });
    });
}
