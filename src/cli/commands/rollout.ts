// `cvmflow rollout …`: fleet rollouts and the Schedules that start them. Thin: parse flags, call
// src/client/rollout.ts, render. Exit codes: 0 ok, 1 failure (a rollout that did not succeed), 2 bad input
// (flags, spec, a request the rollout rejected).

import type { CalendarSpec } from '@temporalio/client';
import type { Command } from 'commander';
import {
  abortRollout,
  backfillRolloutSchedule,
  createRolloutSchedule,
  deleteRolloutSchedule,
  describeRolloutSchedule,
  getRolloutStatus,
  liftFreeze,
  listRolloutSchedules,
  listRollouts,
  type OverlapChoice,
  overrideInstant,
  pauseRollout,
  pauseRolloutSchedule,
  promoteRollout,
  RolloutBusyError,
  RolloutRequestRejectedError,
  type RolloutStatusView,
  resumeRollout,
  skipWindow,
  startRollout,
  triggerRolloutSchedule,
  unpauseRolloutSchedule,
} from '../../client/rollout';
import type { AuditRequest } from '../../domain/audit-input';
import { loadSpecFile, parseDuration } from '../../spec';
import { cronProblem } from '../../spec/cron';
import type { ControlAck, CvmRecord, RolloutResult } from '../../workflows/rollout-types';
import { renderAnalysis } from '../analysis-view';
import { type AuditFlags, addAuditFlags, auditRequest } from '../audit-flags';
import { describeCommand } from '../command-table';
import { UsageError } from '../errors';
import { CommandFailure, workflowFailureMessage } from '../failure';
import { printNote as note, printLine as print, printJson, report } from '../output';
import { startProgressTicker } from '../progress-ticker';
import { withClient } from '../temporal';

/** A rejected request is the user's to fix (exit 2); anything else is a failure (exit 1). */
async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof RolloutRequestRejectedError) throw new UsageError(`rejected: ${err.message}`);
    throw err;
  }
}

const counts = (c: Partial<Record<string, number>>) =>
  Object.entries(c)
    .map(([state, n]) => `${n} ${state}`)
    .join(', ') || 'none';

function renderCvm(c: CvmRecord): string {
  const hash = c.to ? ` ${c.from?.slice(0, 8) ?? '?'}→${c.to.slice(0, 8)}` : '';
  const attested = c.attested ? ` — attested: ${c.attested}` : '';
  return `  ${c.name.padEnd(24)} ${c.cvmId}  wave ${c.wave}  ${c.state}${hash}${c.reason ? ` — ${c.reason}` : ''}${attested}`;
}

/** Why and who; a worker that predates `reason` reports only `note`. */
const asked = (a: { reason?: string; note: string; by?: string }) =>
  `${a.reason ?? a.note}${a.by ? ` (by ${a.by})` : ''}`;

function renderStatus(s: RolloutStatusView, opts: { cvms?: boolean; recent: number }): string[] {
  const lines = [
    `${s.rolloutId} (${s.name}): ${s.phase} [workflow ${s.workflowStatus.toLowerCase()}]`,
    ...(s.waiting ? [`  ${s.waiting}`] : []),
    `  targets ${s.targets}; wave ${Math.min(s.waves.next, s.waves.total)}/${s.waves.total}; failures ${s.failures.count} of ${s.failures.budget} allowed; maxParallel ${s.limits.maxParallel}, maxUnavailable ${s.limits.maxUnavailable}`,
    `  cvms: ${counts(s.counts)}`,
  ];
  if (s.window) {
    const next = s.window.nextChange ? `; next change ${s.window.nextChange.at} → ${s.window.nextChange.state}` : '';
    lines.push(`  window: ${s.window.state}${s.window.open ? '' : ' (no wave starts)'} — ${s.window.cause}${next}`);
  }
  for (const o of s.overrides)
    lines.push(
      `  override ${o.id} ${o.kind}${o.untilMs ? ` until ${new Date(o.untilMs).toISOString()}` : ' for the next wave'} — ${asked(o)}`,
    );
  if (s.paused) lines.push(`  paused since ${new Date(s.paused.sinceMs).toISOString()}: ${asked(s.paused)}`);
  if (s.abort) lines.push(`  aborting (${s.abort.revert ? 'with revert' : 'no revert'}): ${asked(s.abort)}`);
  if (s.wave)
    lines.push(
      `  ${s.wave.mode} wave ${s.wave.wave}: ${s.wave.inFlight} in flight, ${s.wave.unavailable} unavailable${s.wave.control.hold ? `, held (${s.wave.control.reason})` : ''}`,
    );
  const shown =
    opts.cvms || s.cvms.length <= 20
      ? s.cvms
      : s.cvms.filter((c) => c.state !== 'pending' && c.state !== 'healthy' && c.state !== 'already');
  if (shown.length)
    lines.push(
      opts.cvms || s.cvms.length <= 20 ? 'cvms:' : 'cvms needing attention (--cvms for all):',
      ...shown.map(renderCvm),
    );
  for (const a of (s.analyses ?? []).slice(-2)) lines.push(...renderAnalysis(`of wave ${a.wave}`, a));
  if (s.background) lines.push(...renderAnalysis('in the background', s.background));
  const recent = s.records.slice(-opts.recent);
  if (recent.length)
    lines.push(
      `recent (${recent.length} of ${s.records.length + s.foldedRecords}):`,
      ...recent.map((r) => `  ${new Date(r.atMs).toISOString()} ${r.text}`),
    );
  return lines;
}

function renderAck(a: ControlAck): string {
  return `${a.message} [${a.phase}]`;
}

function overlapOf(value: string | undefined): OverlapChoice | undefined {
  if (value === undefined) return undefined;
  if (value === 'skip' || value === 'buffer-one') return value;
  throw new UsageError(`--overlap: expected skip or buffer-one, got ${JSON.stringify(value)}`);
}

function durationOf(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined)
    throw new UsageError(`${flag}: expected a duration such as 10m or 1h, got ${JSON.stringify(value)}`);
  return ms;
}

function dateOf(flag: string, value: string | undefined): Date {
  const ms = value === undefined ? Number.NaN : Date.parse(value);
  if (!Number.isFinite(ms))
    throw new UsageError(
      `${flag}: expected an ISO 8601 instant such as 2026-03-02T09:00Z, got ${JSON.stringify(value ?? '')}`,
    );
  return new Date(ms);
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

async function withTimezone(
  client: Parameters<typeof getRolloutStatus>[0],
  id: string,
  until: string,
): Promise<string> {
  const status = await getRolloutStatus(client, id);
  return overrideInstant(until, status.window?.timezone ?? 'UTC');
}

export function registerRolloutCommand(program: Command): void {
  const rollout = program
    .command('rollout')
    .description(describeCommand('rollout'))
    .addHelpText(
      'after',
      `
Examples:
  cvmflow rollout start -f examples/rollout.yaml --wait
  cvmflow rollout status web-fleet
  cvmflow rollout promote web-fleet --reason "canary looks good"
  cvmflow rollout abort web-fleet --reason "error rate up" --revert
  cvmflow rollout lift-freeze web-fleet --until 2026-12-24T18:00 --reason "CVE fix, approved by ops"
  cvmflow rollout schedule create -f examples/rollout.yaml --cron "0 9 * * TUE" --timezone Europe/Berlin

A rollout is named by its workflow id (scheduled runs carry their nominal time: rollout-<name>-2026-…) or by its
spec name for one started by hand. Each app is updated under its deployment lock (deploy-<app>): a wave never touches
an app another deployment holds, and waits for it or skips it (onBusy). Every control request records who asked
(--by, default your user name) and why (--reason).`,
    );

  rollout
    .command('start')
    .description('start a rollout from a spec file')
    .option('-f, --file <rollout.yaml>', 'Rollout spec (YAML or JSON); see examples/rollout.yaml')
    .option('--wait', 'stay until the rollout ends, showing progress; exit 1 unless it succeeds')
    .option('--json', 'print JSON')
    .action(async (opts: { file?: string; wait?: boolean; json?: boolean }) => {
      if (!opts.file)
        throw new UsageError('--file <rollout.yaml> is required (e.g. cvmflow rollout start -f examples/rollout.yaml)');
      const spec = loadSpecFile(opts.file, { kinds: ['Rollout'] });
      await withClient(async (client, config) => {
        let handle: Awaited<ReturnType<typeof startRollout>>;
        try {
          handle = await startRollout(spec, { client, taskQueue: config.taskQueue, codecKeys: config.codecKeys });
        } catch (err) {
          if (!(err instanceof RolloutBusyError)) throw err;
          if (opts.json) printJson({ rollout: spec.name, status: 'refused', error: err.message });
          throw new CommandFailure(err.message, { jsonPrinted: opts.json });
        }
        if (!opts.wait) {
          report(
            opts.json,
            { rolloutId: handle.workflowId, status: 'started', runId: handle.firstExecutionRunId },
            () => `started ${handle.workflowId}; follow it with: cvmflow rollout status ${handle.workflowId}`,
          );
          return;
        }
        const ticker = startProgressTicker(
          () =>
            getRolloutStatus(client, handle.workflowId).then(
              (s) => `${s.phase}${s.waiting ? `: ${s.waiting}` : ''} — ${counts(s.counts)}`,
            ),
          note,
        );
        let result: RolloutResult;
        try {
          result = await handle.result();
        } catch (err) {
          const error = workflowFailureMessage(err);
          if (opts.json)
            printJson({ rolloutId: handle.workflowId, runId: handle.firstExecutionRunId, status: 'failed', error });
          throw new CommandFailure(error, { jsonPrinted: opts.json });
        } finally {
          await ticker.stop();
        }
        const summary = `rollout ${result.rolloutId} ${result.outcome}${result.reason ? ` (${result.reason})` : ''}: ${counts(result.counts)}`;
        if (opts.json) printJson({ ...result, runId: handle.firstExecutionRunId });
        if (result.outcome !== 'succeeded') throw new CommandFailure(summary, { jsonPrinted: opts.json });
        if (!opts.json) print(summary);
      });
    });

  rollout
    .command('status <rollout>')
    .description('phase, waves, window, per-CVM state and the record of a rollout')
    .option('--cvms', 'list every CVM (default: all for small fleets, else those needing attention)')
    .option('--recent <n>', 'how many recent records to show', '10')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { cvms?: boolean; recent: string; json?: boolean }) => {
      await withClient(async (client) => {
        const status = await getRolloutStatus(client, id);
        print(
          opts.json
            ? JSON.stringify(status, null, 2)
            : renderStatus(status, { cvms: opts.cvms, recent: Math.max(0, Number(opts.recent) || 0) }).join('\n'),
        );
      });
    });

  rollout
    .command('list')
    .description('rollouts in the namespace, newest first')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await withClient(async (client) => {
        const list = await listRollouts(client);
        if (opts.json) print(JSON.stringify(list, null, 2));
        else
          for (const r of list)
            print(
              `${r.workflowId}  ${r.status.toLowerCase()}${r.phase ? ` (${r.phase})` : ''}  started ${r.startTime}`,
            );
      });
    });

  const control = (
    name: string,
    description: string,
    run: (client: Parameters<typeof pauseRollout>[0], id: string, request: AuditRequest) => Promise<ControlAck>,
  ) =>
    addAuditFlags(rollout.command(`${name} <rollout>`).description(description), 'why (kept in the rollout record)')
      .option('--json', 'print JSON')
      .action(async (id: string, opts: AuditFlags & { json?: boolean }) => {
        const request = auditRequest(opts, false);
        await withClient(async (client) => {
          const ack = await guarded(() => run(client, id, request));
          print(opts.json ? JSON.stringify(ack) : renderAck(ack));
        });
      });
  control('pause', 'start no new CVM update until resume; updates in flight finish', pauseRollout);
  control('resume', 'go on after a pause', resumeRollout);
  control('promote', 'end the pause between waves (manual or timed) and start the next wave', promoteRollout);

  addAuditFlags(
    rollout
      .command('abort <rollout>')
      .description('start no new CVM update; updates in flight finish; optionally put updated CVMs back'),
    'why (required; kept in the rollout record)',
  )
    .option('--revert', 'put every CVM this rollout updated back on its previous compose')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: AuditFlags & { revert?: boolean; json?: boolean }) => {
      const request = auditRequest(opts, true);
      await withClient(async (client) => {
        const ack = await guarded(() => abortRollout(client, id, request, opts.revert === true));
        print(opts.json ? JSON.stringify(ack) : renderAck(ack));
      });
    });

  addAuditFlags(
    rollout
      .command('skip-window <rollout>')
      .description('let waves start outside the deploy window (not in a freeze): for the next wave, or until a time')
      .option('--until <time>', 'ISO 8601; without an offset it is local time in the window calendar zone'),
    'why (required; kept in the rollout record)',
  )
    .option('--json', 'print JSON')
    .action(async (id: string, opts: AuditFlags & { until?: string; json?: boolean }) => {
      const request = auditRequest(opts, true);
      await withClient(async (client) => {
        const o = await guarded(async () =>
          skipWindow(client, id, request, opts.until ? await withTimezone(client, id, opts.until) : undefined),
        );
        print(
          opts.json
            ? JSON.stringify(o)
            : `override ${o.id}: window skipped ${o.untilMs ? `until ${new Date(o.untilMs).toISOString()}` : 'for the next wave'} (${o.reason}, by ${o.by})`,
        );
      });
    });

  addAuditFlags(
    rollout
      .command('lift-freeze <rollout>')
      .description('let waves start during a freeze until a time (the deploy window still applies)')
      .option('--until <time>', 'ISO 8601 (required); without an offset it is local time in the window calendar zone'),
    'why (required; kept in the rollout record)',
  )
    .option('--json', 'print JSON')
    .action(async (id: string, opts: AuditFlags & { until?: string; json?: boolean }) => {
      if (!opts.until) throw new UsageError('--until <time> is required: when the freeze applies again');
      const request = auditRequest(opts, true);
      await withClient(async (client) => {
        const o = await guarded(async () =>
          liftFreeze(client, id, request, await withTimezone(client, id, opts.until!)),
        );
        print(
          opts.json
            ? JSON.stringify(o)
            : `override ${o.id}: freeze lifted until ${new Date(o.untilMs!).toISOString()} (${o.reason}, by ${o.by})`,
        );
      });
    });

  registerScheduleCommands(rollout);
}

function registerScheduleCommands(rollout: Command): void {
  const schedule = rollout
    .command('schedule')
    .description('Temporal Schedules that start rollouts (cron or calendar specs in a time zone)');

  schedule
    .command('create')
    .description('create a schedule whose runs start the rollout of a spec')
    .option('-f, --file <rollout.yaml>', 'Rollout spec')
    .option('--id <scheduleId>', 'schedule id (default rollout-<name>)')
    .option('--cron <expr>', 'cron expression, e.g. "0 9 * * TUE" (repeatable)', collect)
    .option(
      '--calendar <json>',
      'Temporal calendar spec as JSON, e.g. \'{"hour":9,"dayOfWeek":"TUESDAY"}\' (repeatable)',
      collect,
    )
    .option('--timezone <zone>', 'IANA zone the specs are read in', 'UTC')
    .option('--overlap <policy>', 'skip (default): drop a run due while one runs; buffer-one: start it afterwards')
    .option('--catchup-window <duration>', 'how late a missed run may still start after an outage', '10m')
    .option('--paused', 'create it paused')
    .option('--note <text>', 'note shown with the schedule (e.g. why it is paused)')
    .option('--json', 'print JSON')
    .action(
      async (opts: {
        file?: string;
        id?: string;
        cron?: string[];
        calendar?: string[];
        timezone: string;
        overlap?: string;
        catchupWindow: string;
        paused?: boolean;
        note?: string;
        json?: boolean;
      }) => {
        if (!opts.file) throw new UsageError('--file <rollout.yaml> is required');
        if (!opts.cron?.length && !opts.calendar?.length)
          throw new UsageError('give --cron or --calendar (at least one)');
        for (const expr of opts.cron ?? []) {
          const problem = cronProblem(expr);
          if (problem) throw new UsageError(`--cron: ${problem}`);
        }
        const calendars = (opts.calendar ?? []).map((text) => {
          try {
            return JSON.parse(text) as CalendarSpec;
          } catch {
            throw new UsageError(`--calendar: not JSON: ${text}`);
          }
        });
        const overlap = overlapOf(opts.overlap);
        const catchupWindowMs = durationOf('--catchup-window', opts.catchupWindow);
        const spec = loadSpecFile(opts.file, { kinds: ['Rollout'] });
        await withClient(async (client, config) => {
          const scheduleId = await createRolloutSchedule(spec, {
            client,
            taskQueue: config.taskQueue,
            codecKeys: config.codecKeys,
            scheduleId: opts.id,
            cron: opts.cron,
            calendars,
            timezone: opts.timezone,
            overlap,
            catchupWindowMs,
            paused: opts.paused,
            note: opts.note,
          });
          const view = await describeRolloutSchedule(client, scheduleId);
          print(
            opts.json
              ? JSON.stringify(view, null, 2)
              : `created schedule ${scheduleId}${view.paused ? ' (paused)' : ''}; next runs: ${view.nextRuns.slice(0, 3).join(', ') || 'none'}`,
          );
        });
      },
    );

  schedule
    .command('list')
    .description('schedules that start rollouts')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await withClient(async (client) => {
        const list = await listRolloutSchedules(client);
        if (opts.json) print(JSON.stringify(list, null, 2));
        else for (const s of list) print(`${s.scheduleId}${s.paused ? `  PAUSED${s.note ? ` (${s.note})` : ''}` : ''}`);
      });
    });

  schedule
    .command('describe <scheduleId>')
    .description('spec, policies, next and recent runs of a schedule')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      await withClient(async (client) => {
        const d = await describeRolloutSchedule(client, id);
        if (opts.json) return print(JSON.stringify(d, null, 2));
        print(
          [
            `${d.scheduleId}: rollout ${d.rollout ?? '?'}${d.paused ? `, PAUSED${d.note ? ` (${d.note})` : ''}` : ''}`,
            `  cron ${d.cron.join('; ') || '-'}; calendars ${d.calendars}; zone ${d.timezone ?? 'UTC'}; overlap ${d.overlap.toLowerCase()}; catch-up ${d.catchupWindowMs / 1000}s`,
            `  runs: ${d.actionsTaken} started, ${d.skippedOverlap} skipped (overlap), ${d.missedCatchupWindow} missed (catch-up window)`,
            `  next: ${d.nextRuns.slice(0, 3).join(', ') || 'none'}`,
            ...d.recent.map((r) => `  ran ${r.workflowId} (due ${r.scheduledAt})`),
          ].join('\n'),
        );
      });
    });

  /** A Temporal Schedule keeps one note: the reason, and who gave it. */
  const scheduleNote = (request: AuditRequest) => (request.reason ? `${request.reason} (by ${request.by})` : undefined);

  addAuditFlags(
    schedule.command('pause <scheduleId>').description('take no scheduled runs until unpaused'),
    'why (required; shown with the schedule)',
  )
    .option('--json', 'print JSON')
    .action(async (id: string, opts: AuditFlags & { json?: boolean }) => {
      const note = scheduleNote(auditRequest(opts, true))!;
      await withClient(async (client) => {
        await pauseRolloutSchedule(client, id, note);
        report(opts.json, { scheduleId: id, paused: true, note }, () => `paused schedule ${id}: ${note}`);
      });
    });

  addAuditFlags(schedule.command('unpause <scheduleId>').description('take scheduled runs again'), 'why')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: AuditFlags & { json?: boolean }) => {
      const note = scheduleNote(auditRequest(opts, false));
      await withClient(async (client) => {
        await unpauseRolloutSchedule(client, id, note);
        report(opts.json, { scheduleId: id, paused: false, note: note ?? null }, () => `unpaused schedule ${id}`);
      });
    });

  schedule
    .command('trigger <scheduleId>')
    .description("start a run now (under the schedule's overlap policy unless --overlap)")
    .option('--overlap <policy>', 'skip or buffer-one')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { overlap?: string; json?: boolean }) => {
      const overlap = overlapOf(opts.overlap);
      await withClient(async (client) => {
        await triggerRolloutSchedule(client, id, overlap);
        report(
          opts.json,
          { scheduleId: id, triggered: true, overlap: overlap ?? null },
          () => `triggered schedule ${id}; see its runs with: cvmflow rollout schedule describe ${id}`,
        );
      });
    });

  schedule
    .command('backfill <scheduleId>')
    .description('take the runs the schedule would have taken between two instants')
    .option('--start <time>', 'ISO 8601 instant')
    .option('--end <time>', 'ISO 8601 instant')
    .option('--overlap <policy>', 'skip or buffer-one')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { start?: string; end?: string; overlap?: string; json?: boolean }) => {
      const start = dateOf('--start', opts.start);
      const end = dateOf('--end', opts.end);
      if (end <= start) throw new UsageError('--end must be after --start');
      const overlap = overlapOf(opts.overlap);
      await withClient(async (client) => {
        await backfillRolloutSchedule(client, id, start, end, overlap);
        report(
          opts.json,
          {
            scheduleId: id,
            backfill: { start: start.toISOString(), end: end.toISOString() },
            overlap: overlap ?? null,
          },
          () => `backfill of ${id} from ${start.toISOString()} to ${end.toISOString()} requested`,
        );
      });
    });

  schedule
    .command('delete <scheduleId>')
    .description('delete the schedule (running rollouts go on)')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      await withClient(async (client) => {
        await deleteRolloutSchedule(client, id);
        report(opts.json, { scheduleId: id, deleted: true }, () => `deleted schedule ${id}`);
      });
    });
}
