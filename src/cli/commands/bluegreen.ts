// `cvmflow bluegreen …`: triggered blue-green deployments. Thin: parse flags, call src/client/bluegreen.ts, render.
import type { Command } from 'commander';
import {
  abortBlueGreen,
  awaitBlueGreen,
  BlueGreenRejectedError,
  finishBlueGreen,
  getBlueGreenStatus,
  pauseBlueGreen,
  promoteBlueGreen,
  resumeBlueGreen,
  rollbackBlueGreen,
  startBlueGreen,
} from '../../client/bluegreen';
import type { AuditRequest } from '../../domain/audit-input';
import { iso } from '../../domain/time';
import { loadSpecFile } from '../../spec';
import type { BlueGreenSpec } from '../../spec/bluegreen';
import type { Actor, BlueGreenResult, BlueGreenStatus, TeardownReport } from '../../workflows/bluegreen-types';
import { renderAnalysis } from '../analysis-view';
import { type AuditFlags, addAuditFlags, auditRequest } from '../audit-flags';
import { describeCommand } from '../command-table';
import { UsageError } from '../errors';
import { CommandFailure, workflowFailureMessage } from '../failure';
import { printNote as note, printJson, report } from '../output';
import { startProgressTicker } from '../progress-ticker';
import { withClient } from '../temporal';

/** A rejected request is the user's to fix (exit 2, with the workflow's reason); anything else exits 1. */
async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof BlueGreenRejectedError) throw new UsageError(`rejected: ${err.message}`);
    throw err;
  }
}

export function renderStatus(s: BlueGreenStatus, run?: string): string[] {
  const lines = [
    `${s.app}: ${s.phase}${s.outcome ? ` (${s.outcome})` : ''}${run ? ` [workflow ${run.toLowerCase()}]` : ''}`,
  ];
  if (s.blue) lines.push(`  blue   ${s.blue.name}  ${s.blue.url}${s.active === 'blue' ? '  ← active' : ''}`);
  if (s.green)
    lines.push(
      `  green  ${s.green.name}${s.green.url ? `  ${s.green.url}` : ''}${s.active === 'green' ? '  ← active' : s.preview ? '  ← preview' : ''}`,
    );
  lines.push(`  health: ${s.greenHealthy ? 'healthy' : 'not healthy'}${s.health ? ` — ${s.health}` : ''}`);
  const p = s.promotion;
  const when = p.promotedAtMs
    ? `promoted ${iso(p.promotedAtMs)} by ${p.promotedBy}`
    : p.autoAtMs
      ? `automatic at ${iso(p.autoAtMs)}`
      : p.waiting
        ? 'waiting for `cvmflow bluegreen promote`'
        : 'not yet';
  lines.push(`  promotion (${p.mode}): ${when}${p.expiresAtMs ? `; preview expires ${iso(p.expiresAtMs)}` : ''}`);
  if (p.paused) lines.push(`  PAUSED by ${p.paused.by} at ${iso(p.paused.atMs)}: ${p.paused.reason}`);
  if (s.rollbackUntilMs) lines.push(`  rollback possible until ${iso(s.rollbackUntilMs)}`);
  if (s.lastError) lines.push(`  last error: ${s.lastError}`);
  for (const a of s.analyses ?? []) lines.push(...renderAnalysis(a.step, a));
  lines.push(`  triggered by ${s.trigger.by}: ${s.trigger.reason}`);
  for (const h of s.history.filter((e) => e.kind !== 'phase').slice(-8))
    lines.push(`    ${iso(h.atMs)} ${h.kind}: ${h.detail}${h.by ? ` — ${h.by}: ${h.reason}` : ''}`);
  return lines;
}

function renderReport(r: TeardownReport): string[] {
  return [
    `${r.outcome} (was in ${r.phase})${r.trafficBackMs !== undefined ? `; traffic back on blue after ${r.trafficBackMs} ms` : ''}`,
    ...r.actions.map((a) => `  ${a}`),
  ];
}

function renderResult(r: BlueGreenResult): string[] {
  return [`${r.app}: ${r.summary}`, `  serving: ${r.active ? `${r.active.name} (${r.active.url})` : 'nothing'}`];
}

export function registerBlueGreenCommand(program: Command): void {
  const bg = program
    .command('bluegreen')
    .description(describeCommand('bluegreen'))
    .addHelpText(
      'after',
      `
Examples:
  cvmflow bluegreen start -f examples/bluegreen.yaml --reason "release 1.4" --wait
  cvmflow bluegreen status web
  cvmflow bluegreen promote web --reason "preview checked by QA"
  cvmflow bluegreen rollback web --reason "error rate up"     # while blue is kept warm
  cvmflow bluegreen abort web --reason "wrong build"          # any phase: traffic back to blue

Every control action records who asked (--by, default your user name) and why (--reason, required).
A rejected action (e.g. promote before green is healthy) exits 2 with the reason.`,
    );

  addAuditFlags(
    bg
      .command('start')
      .description('start a blue-green deployment of a BlueGreen spec')
      .option('-f, --file <spec.yaml>', 'BlueGreen spec (YAML or JSON); see examples/bluegreen.yaml'),
    'why this deployment (kept in its history; default: "manual deployment")',
  )
    .option('--wait', 'stay until the run ends; exit 1 unless green was promoted')
    .option('--json', 'print JSON')
    .action(async (opts: AuditFlags & { json?: boolean; file?: string; wait?: boolean }) => {
      if (!opts.file)
        throw new UsageError(
          '--file <spec.yaml> is required (e.g. cvmflow bluegreen start -f examples/bluegreen.yaml)',
        );
      const spec = loadSpecFile(opts.file, { kinds: ['BlueGreen'] }) as BlueGreenSpec;
      const request = auditRequest({ ...opts, reason: opts.reason ?? opts.note ?? 'manual deployment' }, true);
      const trigger: Actor = { by: request.by!, reason: request.reason! };
      await withClient(async (client, config) => {
        const outcome = await startBlueGreen(spec, {
          client,
          taskQueue: config.taskQueue,
          codecKeys: config.codecKeys,
          trigger,
        });
        if (outcome.status === 'rejected') {
          // A busy app is not bad input: said as a busy deploy says it (`refused`, exit 1).
          const error = outcome.reason ?? `${spec.name}: a blue-green deployment is in progress`;
          if (opts.json) printJson({ ...outcome, status: 'refused', error });
          throw new CommandFailure(error, { jsonPrinted: opts.json });
        }
        if (outcome.superseded)
          note(
            `${outcome.superseded.action === 'abort' ? 'aborted' : 'finished'} the previous run ${outcome.superseded.runId} (${outcome.superseded.phase})`,
          );
        if (!opts.wait) {
          report(
            opts.json,
            outcome,
            () =>
              `started ${outcome.workflowId} (run ${outcome.runId}); follow it with: cvmflow bluegreen status ${spec.name}`,
          );
          return;
        }
        const ticker = startProgressTicker(
          () =>
            getBlueGreenStatus(client, spec.name).then(
              (v) => `${spec.name}: ${v.status.phase}${v.status.green ? ` (${v.status.green.name})` : ''}`,
            ),
          note,
        );
        let result: BlueGreenResult;
        try {
          result = await awaitBlueGreen(client, spec.name, outcome.runId);
        } catch (err) {
          const error = workflowFailureMessage(err);
          if (opts.json)
            printJson({
              app: spec.name,
              workflowId: outcome.workflowId,
              runId: outcome.runId,
              status: 'failed',
              error,
            });
          throw new CommandFailure(error, { jsonPrinted: opts.json });
        } finally {
          await ticker.stop();
        }
        // The ids beside the result, so automation (the GitHub Action) can link the run it waited for.
        report(opts.json, { workflowId: outcome.workflowId, runId: outcome.runId, ...result }, () =>
          renderResult(result),
        );
        if (result.outcome !== 'promoted')
          throw new CommandFailure(`${spec.name} was not promoted: ${result.summary}`, { jsonPrinted: opts.json });
      });
    });

  bg.command('status <app>')
    .description('phase, blue and green, health, promotion and recent history of the app’s latest run')
    .option('--json', 'print JSON')
    .action(async (app: string, opts: { json?: boolean }) => {
      await withClient(async (client) => {
        const view = await guarded(() => getBlueGreenStatus(client, app));
        report(opts.json, view, () => renderStatus(view.status, view.run));
      });
    });

  const action = <R>(
    name: string,
    description: string,
    call: (client: Parameters<typeof promoteBlueGreen>[0], app: string, request: AuditRequest) => Promise<R>,
    render: (result: R) => string[],
  ) =>
    addAuditFlags(bg.command(`${name} <app>`).description(description), 'why (required; kept in the run’s history)')
      .option('--json', 'print JSON')
      .action(async (app: string, opts: AuditFlags & { json?: boolean }) => {
        const actor = auditRequest(opts, true);
        await withClient(async (client) => {
          const result = await guarded(() => call(client, app, actor));
          report(opts.json, result, () => render(result));
        });
      });

  action(
    'promote',
    'send traffic to green (only once it is healthy and waiting for promotion)',
    promoteBlueGreen,
    (r) => [`promoted ${r.green} at ${iso(r.promotedAtMs)}; now ${r.phase}`],
  );
  action(
    'abort',
    'end the run in any phase: traffic back to blue, green deleted or stopped (abortPolicy)',
    abortBlueGreen,
    renderReport,
  );
  action(
    'rollback',
    'after promotion, while blue is warm: switch straight back to blue, no gates',
    rollbackBlueGreen,
    renderReport,
  );
  action('pause', 'hold automatic steps (automatic promotion, retiring blue) until resume', pauseBlueGreen, (p) => [
    `paused${p.paused ? ` by ${p.paused.by}: ${p.paused.reason}` : ''}`,
  ]);
  action('resume', 'let automatic steps continue', resumeBlueGreen, (p) => [
    `resumed${p.autoAtMs ? `; automatic promotion at ${iso(p.autoAtMs)}` : ''}`,
  ]);
  action('finish', 'retire blue now instead of waiting out scaleDownDelay', finishBlueGreen, (r) => [
    `finished; retired ${r.retired.join(', ') || 'nothing'}`,
  ]);
}
