// `cvmflow watch <workflow-id>`: follows one workflow live until it ends — a deployment's progress query (phase and
// CVMs), or the CvmflowPhase search attribute of any other cvmflow workflow — then prints how it ended.
import { type Client, WorkflowFailedError, type WorkflowHandle, WorkflowNotFoundError } from '@temporalio/client';
import type { Command } from 'commander';
import { type DeployStatus, deployStatusQuery, SA_KIND, SA_PHASE } from '../../workflows/deploy-types';
import { describeCommand } from '../command-table';
import { UsageError } from '../errors';
import { CommandFailure } from '../failure';
import { positiveIntFlag } from '../flags';
import { colorEnabled, createProgress, createStyle, printJson, type Style, styleState } from '../output';
import { withClient } from '../temporal';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function renderDeployProgress(style: Style, p: DeployStatus): string {
  const cvms = p.cvms
    .map((c) => `${c.cvmId.slice(0, 8)} ${styleState(style, c.status)}${c.nodeId !== null ? `@${c.nodeId}` : ''}`)
    .join(', ');
  const mode = p.mode ? ` (${p.mode})` : '';
  return `${p.app}: ${styleState(style, p.phase)}${mode}${cvms ? ` — ${cvms}` : ''}${p.lastError ? ` — last error: ${p.lastError}` : ''}`;
}

interface Snapshot {
  status: string;
  kind: string | null;
  phase: string | null;
  progress?: DeployStatus;
}

async function snapshot(handle: WorkflowHandle): Promise<Snapshot> {
  const d = await handle.describe();
  const kind = d.typedSearchAttributes.get(SA_KIND) ?? null;
  const snap: Snapshot = { status: d.status.name, kind, phase: d.typedSearchAttributes.get(SA_PHASE) ?? null };
  if (kind === 'deploy') {
    // A query may miss while the worker restarts; the next tick tries again.
    const progress = await handle.query(deployStatusQuery).catch(() => undefined);
    if (progress) snap.progress = progress;
  }
  return snap;
}

export interface WatchOutcome {
  workflowId: string;
  status: string;
  /** Completed and, where its result names an outcome (rollouts, blue-green runs, waves), a successful one. */
  succeeded: boolean;
  result?: unknown;
  error?: string;
  progress?: DeployStatus;
}

// A workflow can complete without succeeding: a rollout stopped by its budget, a blue-green run that expired
// unpromoted. Their results say so in `outcome`; these are the outcomes that count as success.
const SUCCESSFUL_OUTCOMES = new Set(['succeeded', 'promoted', 'done']);

function succeeded(status: string, result: unknown): boolean {
  if (status !== 'COMPLETED') return false;
  const outcome = (result as { outcome?: unknown } | null | undefined)?.outcome;
  return typeof outcome !== 'string' || SUCCESSFUL_OUTCOMES.has(outcome);
}

/** Follows the workflow until it closes, reporting each change; the outcome says how it ended. */
export async function watchWorkflow(
  client: Client,
  workflowId: string,
  opts: { intervalMs: number; onChange?: (line: string) => void; style: Style },
): Promise<WatchOutcome> {
  const handle = client.workflow.getHandle(workflowId);
  let snap: Snapshot;
  try {
    snap = await snapshot(handle);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      throw new UsageError(`workflow-id: no workflow ${workflowId} (list them with \`cvmflow status --all\`)`);
    throw err;
  }
  for (;;) {
    const line = snap.progress
      ? renderDeployProgress(opts.style, snap.progress)
      : `${workflowId}: ${styleState(opts.style, snap.phase ?? snap.status.toLowerCase())}`;
    opts.onChange?.(line);
    if (snap.status !== 'RUNNING') break;
    await sleep(opts.intervalMs);
    snap = await snapshot(handle);
  }
  const outcome: WatchOutcome = { workflowId, status: snap.status, succeeded: false, progress: snap.progress };
  try {
    outcome.result = await handle.result();
  } catch (err) {
    outcome.error = err instanceof WorkflowFailedError ? (err.cause?.message ?? err.message) : (err as Error).message;
  }
  outcome.succeeded = succeeded(outcome.status, outcome.result);
  return outcome;
}

interface WatchFlags {
  interval: number;
  json?: boolean;
}

export function registerWatchCommand(program: Command): void {
  program
    .command('watch <workflow-id>')
    .description(describeCommand('watch'))
    .option('--interval <ms>', 'how often to refresh', positiveIntFlag('--interval'), 1000)
    .option('--json', 'print only the final outcome as JSON')
    .addHelpText(
      'after',
      `
Examples:
  cvmflow deploy -f app.yaml && cvmflow watch deploy-my-app
  cvmflow watch power-office-hours --json

Workflow ids: deploy-<app> for deployments, power-<name> for power schedules (cvmflow status lists them).`,
    )
    .action(async (workflowId: string, flags: WatchFlags) => {
      if (!workflowId.trim()) throw new UsageError('workflow-id: must not be empty');
      const style = createStyle(colorEnabled(process.stderr));
      const progress = createProgress(process.stderr);
      const outcome = await withClient(async (client) =>
        watchWorkflow(client, workflowId, {
          intervalMs: flags.interval,
          style,
          onChange: flags.json ? undefined : (line) => progress.update(line),
        }),
      ).finally(() => progress.done());
      if (flags.json) printJson(outcome);
      else if (outcome.succeeded) process.stdout.write(`${workflowId}: completed\n`);
      if (!outcome.succeeded) {
        const how =
          outcome.status === 'COMPLETED'
            ? `completed without succeeding: ${(outcome.result as { outcome: string }).outcome}`
            : `ended ${outcome.status.toLowerCase()}${outcome.error ? `: ${outcome.error}` : ''}`;
        throw new CommandFailure(`${workflowId} ${how}`, { jsonPrinted: flags.json });
      }
    });
}
