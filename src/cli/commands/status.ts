// `cvmflow status [app]`: cvmflow's workflows as Temporal's visibility store knows them (through the CvmflowApp,
// CvmflowKind and CvmflowPhase search attributes), with the CVMs each one reports through its query.
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import type { Command } from 'commander';
import {
  type AttestationSummary,
  type DeployStatus,
  deployStatusQuery,
  SA_APP,
  SA_KIND,
  SA_PHASE,
} from '../../workflows/deploy-types';
import { type PowerStatus, powerStatusQuery } from '../../workflows/power-types';
import { describeCommand } from '../command-table';
import { UsageError } from '../errors';
import { positiveIntFlag } from '../flags';
import { colorEnabled, createStyle, printJson, printLine, renderTable, styleState } from '../output';
import { withClient } from '../temporal';

export interface CvmLine {
  cvmId: string;
  status: string;
  nodeId?: number | null;
  /** The evidence of its accepted attestation, when the deploy required one. */
  attestation?: AttestationSummary;
}

export interface WorkflowLine {
  workflowId: string;
  runId: string;
  type: string;
  kind: string | null;
  app: string | null;
  phase: string | null;
  status: string;
  startTime: string;
  closeTime: string | null;
  /** What the workflow's own query says about its CVMs; absent when it has no such query or did not answer. */
  cvms?: CvmLine[];
}

/** How each kind of workflow reports its CVMs; a new workflow family adds one line here. */
const CVM_READERS: Record<string, (client: Client, workflowId: string, runId: string) => Promise<CvmLine[]>> = {
  deploy: async (client, id, run) =>
    ((await client.workflow.getHandle(id, run).query(deployStatusQuery)) as DeployStatus).cvms.map((c) => ({
      cvmId: c.cvmId,
      status: c.status,
      nodeId: c.nodeId,
      ...(c.attestation ? { attestation: c.attestation } : {}),
    })),
  power: async (client, id, run) =>
    ((await client.workflow.getHandle(id, run).query(powerStatusQuery)) as PowerStatus).cvms.map((c) => ({
      cvmId: c.cvmId,
      status: c.actual,
    })),
};

const QUERY_TIMEOUT_MS = 5_000;

async function cvmsOf(client: Client, line: WorkflowLine): Promise<CvmLine[] | undefined> {
  const read = line.kind ? CVM_READERS[line.kind] : undefined;
  if (!read) return undefined;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), QUERY_TIMEOUT_MS);
  });
  try {
    return await Promise.race([read(client, line.workflowId, line.runId).catch(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function toLine(info: WorkflowExecutionInfo): WorkflowLine {
  const attrs = info.typedSearchAttributes;
  return {
    workflowId: info.workflowId,
    runId: info.runId,
    type: info.type,
    kind: attrs.get(SA_KIND) ?? null,
    app: attrs.get(SA_APP) ?? null,
    phase: attrs.get(SA_PHASE) ?? null,
    status: info.status.name,
    startTime: info.startTime.toISOString(),
    closeTime: info.closeTime?.toISOString() ?? null,
  };
}

// An app name is a hostname label, so it needs no escaping inside the visibility query's quotes.
const APP_NAME = /^[a-zA-Z](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;

export function statusQuery(app: string | undefined, all: boolean): string {
  const parts = ['CvmflowKind IS NOT NULL'];
  if (app) parts.push(`CvmflowApp = '${app}'`);
  if (!all) parts.push(`ExecutionStatus = 'Running'`);
  return parts.join(' AND ');
}

export async function listCvmflowWorkflows(
  client: Client,
  opts: { app?: string; all: boolean; limit: number },
): Promise<WorkflowLine[]> {
  const lines: WorkflowLine[] = [];
  for await (const info of client.workflow.list({ query: statusQuery(opts.app, opts.all), pageSize: opts.limit })) {
    lines.push(toLine(info));
    if (lines.length >= opts.limit) break;
  }
  await Promise.all(
    lines.map(async (line) => {
      const cvms = await cvmsOf(client, line);
      if (cvms) line.cvms = cvms;
    }),
  );
  return lines;
}

function render(lines: WorkflowLine[], opts: { app?: string; all: boolean }): string[] {
  const style = createStyle(colorEnabled(process.stdout));
  if (lines.length === 0) {
    const what = opts.all ? 'cvmflow workflows' : 'running cvmflow workflows';
    return [`no ${what}${opts.app ? ` for app ${opts.app}` : ''}${opts.all ? '' : ' (--all includes finished ones)'}`];
  }
  const rows = lines.map((l) => [
    l.workflowId,
    l.kind ?? '-',
    l.app ?? '-',
    styleState(style, l.phase ?? '-'),
    styleState(style, l.status.toLowerCase()),
    l.cvms
      ? l.cvms.length
        ? l.cvms.map((c) => `${c.cvmId.slice(0, 8)} ${c.status}${c.attestation ? ' attested' : ''}`).join(', ')
        : 'none'
      : '-',
  ]);
  return renderTable(rows, ['WORKFLOW', 'KIND', 'APP', 'PHASE', 'STATUS', 'CVMS']);
}

interface StatusFlags {
  all?: boolean;
  limit: number;
  json?: boolean;
}

export function registerStatusCommand(program: Command): void {
  program
    .command('status [app]')
    .description(describeCommand('status'))
    .option('--all', 'include finished workflows too')
    .option('--limit <n>', 'list at most n workflows', positiveIntFlag('--limit'), 50)
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
Examples:
  cvmflow status                      # every running deployment, schedule, rollout …
  cvmflow status hello-nginx --all    # one app, finished runs included
  cvmflow status --json | jq '.workflows[].phase'`,
    )
    .action(async (app: string | undefined, flags: StatusFlags) => {
      if (app !== undefined && !APP_NAME.test(app))
        throw new UsageError(
          `app: ${JSON.stringify(app)} is not an app name (letters, digits and hyphens, starting with a letter)`,
        );
      await withClient(async (client) => {
        const lines = await listCvmflowWorkflows(client, { app, all: Boolean(flags.all), limit: flags.limit });
        if (flags.json) printJson({ workflows: lines });
        else for (const line of render(lines, { app, all: Boolean(flags.all) })) printLine(line);
      });
    });
}
