// `cvmflow plan -f spec.yaml`: what a deploy of this spec would change, read from Phala Cloud without changing
// anything (GET requests only): does the app exist, does its compose differ (field by field — compose hashes are
// computed by the server, never locally), how many CVMs it has against the spec's replicas, which are not running.
import type { Command } from 'commander';
import { PhalaClient } from '../../phala/client';
import { PhalaUsageError } from '../../phala/errors';
import { allowedEnvs, type DeploymentSpec, loadSpecFile, placementNodes } from '../../spec';
import { describeCommand } from '../command-table';
import { UsageError } from '../errors';
import { colorEnabled, createStyle, printJson, printLine, renderTable } from '../output';

export interface PlanCvm {
  cvmId: string;
  status: string;
  nodeId: number | null;
  composeHash: string | null;
}

export interface PlanReport {
  app: string;
  exists: boolean;
  /** What `cvmflow deploy` would do: create the app, update it, or nothing. */
  action: 'create' | 'update' | 'none';
  compose: { composeHash: string | null; changedFields: string[]; mixedHashes: boolean };
  replicas: { desired: number; actual: number };
  /** CVMs that are not running (stopped by hand or by a power schedule, or still busy). */
  notRunning: string[];
  cvms: PlanCvm[];
  /** One line per difference, in words. */
  changes: string[];
}

/** The compose fields a deploy writes, in the app-compose's own words, from the spec. */
function desiredCompose(spec: DeploymentSpec): Record<string, unknown> {
  return {
    docker_compose_file: spec.compose.dockerCompose,
    pre_launch_script: spec.compose.preLaunchScript ?? '',
    allowed_envs: allowedEnvs(spec),
    public_logs: spec.visibility.publicLogs,
    public_sysinfo: spec.visibility.publicSysinfo,
    public_tcbinfo: spec.visibility.publicTcbinfo,
  };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export function composeDifferences(spec: DeploymentSpec, current: Record<string, unknown>): string[] {
  const want = desiredCompose(spec);
  const have: Record<string, unknown> = { ...current, pre_launch_script: current.pre_launch_script ?? '' };
  have.allowed_envs ??= [];
  return Object.keys(want).filter((k) => !same(want[k], have[k]));
}

/** Every live CVM named like the app: the primary and its replicas (what the deploy pipeline finds too). */
async function appCvms(phala: PhalaClient, app: string): Promise<PlanCvm[]> {
  const found: PlanCvm[] = [];
  for (let page = 1; ; page++) {
    const res = await phala.listCvms({ page, pageSize: 100 });
    for (const c of res.items) {
      if (c.name === app && c.vm_uuid && c.status !== 'deleting')
        found.push({
          cvmId: c.vm_uuid,
          status: c.status,
          nodeId: c.node_info?.id ?? null,
          composeHash: c.compose_hash ?? null,
        });
    }
    if (page >= res.pages) return found;
  }
}

export async function computePlan(spec: DeploymentSpec, phala: PhalaClient): Promise<PlanReport> {
  const desired = spec.replicas ?? Math.max(1, placementNodes(spec).length);
  const cvms = await appCvms(phala, spec.name);
  const primary = cvms[0];
  if (!primary) {
    return {
      app: spec.name,
      exists: false,
      action: 'create',
      compose: { composeHash: null, changedFields: [], mixedHashes: false },
      replicas: { desired, actual: 0 },
      notRunning: [],
      cvms: [],
      changes: [`create app ${spec.name} with ${desired} CVM${desired === 1 ? '' : 's'}`],
    };
  }
  const current = (await phala.getComposeFile(primary.cvmId)) as Record<string, unknown>;
  const changedFields = composeDifferences(spec, current);
  const hashes = new Set(cvms.map((c) => c.composeHash));
  const notRunning = cvms.filter((c) => c.status !== 'running').map((c) => c.cvmId);
  const changes: string[] = [];
  if (changedFields.length) changes.push(`update the compose (${changedFields.join(', ')}): a new compose hash`);
  if (hashes.size > 1) changes.push(`the CVMs run ${hashes.size} different compose hashes`);
  if (cvms.length < desired) changes.push(`add ${desired - cvms.length} replica(s): ${cvms.length} → ${desired}`);
  if (cvms.length > desired)
    changes.push(`${cvms.length} CVMs exist, the spec wants ${desired} (deploy does not remove extra CVMs)`);
  for (const id of notRunning) {
    const status = cvms.find((c) => c.cvmId === id)?.status;
    changes.push(`CVM ${id} is ${status}, not running`);
  }
  const deployChanges = changedFields.length > 0 || hashes.size > 1 || cvms.length < desired;
  return {
    app: spec.name,
    exists: true,
    action: deployChanges ? 'update' : 'none',
    compose: { composeHash: primary.composeHash, changedFields, mixedHashes: hashes.size > 1 },
    replicas: { desired, actual: cvms.length },
    notRunning,
    cvms,
    changes,
  };
}

function render(report: PlanReport): string[] {
  const style = createStyle(colorEnabled(process.stdout));
  const head = report.exists
    ? `${report.app}: ${report.changes.length ? style.warn(`${report.changes.length} difference(s)`) : style.ok('in sync')} (compose ${report.compose.composeHash?.slice(0, 12) ?? '?'}, ${report.replicas.actual}/${report.replicas.desired} CVMs)`
    : `${report.app}: ${style.info('does not exist')}`;
  const lines = [head, ...report.changes.map((c) => `  ~ ${c}`)];
  if (report.cvms.length)
    lines.push(
      '',
      ...renderTable(
        report.cvms.map((c) => [c.cvmId, c.status, String(c.nodeId ?? '-'), c.composeHash?.slice(0, 12) ?? '-']),
        ['CVM', 'STATUS', 'NODE', 'COMPOSE'],
      ),
    );
  lines.push('', 'Nothing was changed. Apply with: cvmflow deploy -f <spec> --wait');
  return lines;
}

export function registerPlanCommand(program: Command): void {
  program
    .command('plan')
    .description(describeCommand('plan'))
    .option('-f, --file <spec.yaml>', 'deployment spec (YAML or JSON)')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
Reads PHALA_CLOUD_API_KEY and PHALA_CLOUD_API_PREFIX; makes GET requests only.

Examples:
  cvmflow plan -f examples/deploy.yaml
  cvmflow plan -f app.yaml --json | jq .action      # create | update | none`,
    )
    .action(async (opts: { file?: string; json?: boolean }) => {
      if (!opts.file)
        throw new UsageError('--file <spec.yaml> is required (e.g. cvmflow plan -f examples/deploy.yaml)');
      const spec = loadSpecFile(opts.file, { kinds: ['Deployment'] }) as DeploymentSpec;
      let phala: PhalaClient;
      try {
        phala = PhalaClient.fromEnv();
      } catch (err) {
        if (err instanceof PhalaUsageError) throw new UsageError(err.message);
        throw err;
      }
      try {
        const report = await computePlan(spec, phala);
        if (opts.json) printJson(report);
        else for (const line of render(report)) printLine(line);
      } finally {
        await phala.close();
      }
    });
}
