// What the dashboard shows, read in one pass: the fleet's apps and CVMs from the Phala Cloud API, and every
// cvmflow workflow Temporal's visibility store lists (running, or closed within the last hour) with its own status
// query — deploys, rollouts (the running wave's live CVMs merged in by the client), blue-greens and power schedules
// (with the calendar laid out over the week). Only what the workflows and the API already report: no secret, no
// workflow input other than a power schedule's calendar.
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import type { LoadedDataConverter } from '@temporalio/common';
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow';
import type { Calendar } from '../calendar';
import { layoutWeek, timeIn, type WeekLayout } from '../calendar/week';
import { type BlueGreenView, getBlueGreenStatus } from '../client/bluegreen';
import { getDeployProgress } from '../client/deploy';
import { getPowerStatus } from '../client/power';
import { getRolloutStatus, type RolloutStatusView } from '../client/rollout';
import { SA_APP, SA_KIND, SA_PHASE } from '../domain/names';
import type { PhalaClient } from '../phala/client';
import type { DeployProgress } from '../workflows/deploy-types';
import type { PowerConfig, PowerStatus } from '../workflows/power-types';

export interface CvmView {
  cvmId: string;
  name: string;
  appId?: string;
  status: string;
  node?: string;
  composeHash?: string;
  version?: string;
  /** An attestation verdict, when the API (or a later cvmflow check) reports one for the CVM. */
  attestation?: string;
  vmUuid?: string;
  /** What the API says an hour of this CVM costs, when it bills it hourly. */
  hourlyRate?: number;
}

export interface AppView {
  name: string;
  appId?: string;
  cvms: CvmView[];
  /** The cvmflow workflows that concern the app (ids, for links). */
  workflows: string[];
}

export interface WorkflowRef {
  workflowId: string;
  runId: string;
  kind: string;
  /** The workflow type: a rollout's own app workflows share its kind but not its type. */
  type: string;
  app?: string;
  phase?: string;
  /** RUNNING, COMPLETED, FAILED, … */
  status: string;
  startTime: string;
}

export interface PowerView extends WorkflowRef {
  power: PowerStatus;
  calendar?: Calendar;
  week?: WeekLayout;
  /** Per target CVM, hours the calendar keeps it stopped this week; times the CVM count; times their hourly rates. */
  hoursOff?: { perCvm: number; cvmHours: number; cvms: number; saved?: number };
}

export interface Snapshot {
  atMs: number;
  namespace: string;
  temporalUiUrl?: string;
  apps: AppView[];
  workflows: WorkflowRef[];
  deploys: (WorkflowRef & { progress?: DeployProgress })[];
  rollouts: (WorkflowRef & { rollout?: RolloutStatusView })[];
  blueGreens: (WorkflowRef & { blueGreen?: BlueGreenView })[];
  power: PowerView[];
  /** What could not be read this time (one line each); the rest is still shown. */
  problems: string[];
}

export interface SnapshotSource {
  client: Client;
  namespace: string;
  phala?: PhalaClient;
  temporalUiUrl?: string;
  /** Closed workflows stay listed this long (default one hour). */
  recentMs?: number;
  now?: () => number;
}

const QUERY_TIMEOUT_MS = 5_000;

function withTimeout<T>(what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${QUERY_TIMEOUT_MS / 1000} s`)), QUERY_TIMEOUT_MS);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function refOf(info: WorkflowExecutionInfo): WorkflowRef {
  const attrs = info.typedSearchAttributes;
  const app = attrs.get(SA_APP);
  const phase = attrs.get(SA_PHASE);
  return {
    workflowId: info.workflowId,
    runId: info.runId,
    kind: attrs.get(SA_KIND) ?? info.type,
    type: info.type,
    ...(app ? { app } : {}),
    ...(phase ? { phase } : {}),
    status: info.status.name,
    startTime: info.startTime.toISOString(),
  };
}

async function listWorkflows(source: SnapshotSource, nowMs: number): Promise<WorkflowRef[]> {
  const since = new Date(nowMs - (source.recentMs ?? 3_600_000)).toISOString();
  const query = `CvmflowKind IS NOT NULL AND (ExecutionStatus = 'Running' OR CloseTime > '${since}')`;
  const out: WorkflowRef[] = [];
  for await (const info of source.client.workflow.list({ query, pageSize: 200 })) {
    out.push(refOf(info));
    if (out.length >= 200) break;
  }
  return out;
}

/**
 * A power schedule's calendar as the workflow runs it: from the latest accepted `apply` update of its current run,
 * else from the run's input (continue-as-new carries the current config forward, so the input is never stale
 * beyond the run's own applies).
 */
export async function powerCalendar(client: Client, workflowId: string, runId: string): Promise<Calendar | undefined> {
  const converter = (client.options as unknown as { loadedDataConverter: LoadedDataConverter }).loadedDataConverter;
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  let payloads = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads;
  let fromInput = true;
  for (const e of history.events ?? []) {
    const accepted = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input;
    if (accepted?.name === 'apply' && accepted.args?.payloads) {
      payloads = accepted.args.payloads;
      fromInput = false;
    }
  }
  if (!payloads) return undefined;
  const [first] = await decodeArrayFromPayloads(converter, payloads);
  const config = fromInput ? (first as { config?: PowerConfig } | undefined)?.config : (first as PowerConfig);
  return config?.calendar as Calendar | undefined;
}

async function readApps(phala: PhalaClient): Promise<CvmView[]> {
  const cvms: CvmView[] = [];
  for (let page = 1; page <= 50; page++) {
    const list = (await phala.listCvms({ page, pageSize: 100 })) as {
      items: Record<string, unknown>[];
      pages: number;
    };
    for (const raw of list.items) cvms.push(cvmView(raw));
    if (page >= list.pages) break;
  }
  return cvms;
}

/** The fields shown, read loosely: the list item's shape differs between API versions. */
function cvmView(raw: Record<string, unknown>): CvmView {
  const str = (v: unknown) => (typeof v === 'string' && v ? v : typeof v === 'number' ? String(v) : undefined);
  const node = raw.node_info as { name?: string; id?: number } | null | undefined;
  const os = raw.os as { name?: string; version?: string } | null | undefined;
  const attestation = raw.attestation as { verdict?: string; status?: string } | string | null | undefined;
  const verdict = typeof attestation === 'string' ? attestation : (attestation?.verdict ?? attestation?.status);
  const osName = os?.name && os.version && !os.name.includes(os.version) ? `${os.name} ${os.version}` : os?.name;
  const version = str(raw.version) ?? osName ?? str(raw.base_image);
  const nodeName = node?.name ?? (node?.id !== undefined ? `node ${node.id}` : str(raw.teepod_id));
  const view: CvmView = { cvmId: str(raw.id) ?? '?', name: str(raw.name) ?? '?', status: str(raw.status) ?? '?' };
  const appId = str(raw.app_id);
  const composeHash = str(raw.compose_hash);
  const vmUuid = str(raw.vm_uuid);
  const resource = raw.resource as { compute_billing_price?: string; billing_period?: string } | undefined;
  const rate = resource?.billing_period === 'hourly' ? Number(resource.compute_billing_price) : Number.NaN;
  if (appId) view.appId = appId;
  if (nodeName) view.node = nodeName;
  if (composeHash) view.composeHash = composeHash;
  if (version) view.version = version;
  if (verdict) view.attestation = verdict;
  if (vmUuid) view.vmUuid = vmUuid;
  if (Number.isFinite(rate) && rate > 0) view.hourlyRate = rate;
  return view;
}

/**
 * The attestation verdicts cvmflow's own gates recorded (a deploy's accepted attestations, a rollout's `attested`
 * lines), by CVM id: what the Apps page shows for CVMs whose list item carries no verdict of its own.
 */
export function recordedVerdicts(
  deploys: { progress?: DeployProgress }[],
  rollouts: { rollout?: { cvms: { cvmId: string; attested?: string }[] } }[],
): Map<string, string> {
  const verdicts = new Map<string, string>();
  for (const d of deploys)
    for (const c of d.progress?.cvms ?? [])
      if (c.attestation)
        verdicts.set(
          c.cvmId,
          `${c.attestation.quoteVerified ? 'verified' : 'not verified'} (quote ${c.attestation.quoteStatus}, ${c.attestation.checks} checks)`,
        );
  for (const r of rollouts)
    for (const c of r.rollout?.cvms ?? []) if (c.attested) verdicts.set(c.cvmId, `verified: ${c.attested}`);
  return verdicts;
}

function groupApps(cvms: CvmView[], workflows: WorkflowRef[]): AppView[] {
  const apps = new Map<string, AppView>();
  for (const c of cvms) {
    const app = apps.get(c.name) ?? { name: c.name, ...(c.appId ? { appId: c.appId } : {}), cvms: [], workflows: [] };
    app.cvms.push(c);
    apps.set(c.name, app);
  }
  for (const w of workflows) {
    if (!w.app) continue;
    const app = apps.get(w.app) ?? { name: w.app, cvms: [], workflows: [] };
    app.workflows.push(w.workflowId);
    apps.set(w.app, app);
  }
  return [...apps.values()].sort((a, b) => a.name.localeCompare(b.name));
}

function withVerdicts(cvms: CvmView[], verdicts: Map<string, string>): CvmView[] {
  return cvms.map((c) => {
    const recorded = verdicts.get(c.cvmId) ?? (c.vmUuid ? verdicts.get(c.vmUuid) : undefined);
    return c.attestation || !recorded ? c : { ...c, attestation: recorded };
  });
}

export async function readSnapshot(source: SnapshotSource): Promise<Snapshot> {
  const nowMs = (source.now ?? Date.now)();
  const problems: string[] = [];
  const note = (what: string) => (err: unknown) => {
    problems.push(`${what}: ${(err as Error).message}`);
    return undefined;
  };
  const { client } = source;
  const [workflows, cvms] = await Promise.all([
    listWorkflows(source, nowMs).catch((err: unknown) => note('listing workflows')(err) ?? []),
    source.phala ? readApps(source.phala).catch((err: unknown) => note('listing CVMs')(err) ?? []) : [],
  ]);
  const rateOf = new Map<string, number>();
  for (const c of cvms)
    if (c.hourlyRate !== undefined) for (const id of [c.cvmId, c.vmUuid]) if (id) rateOf.set(id, c.hourlyRate);
  const ofKind = (kind: string, type: string) => workflows.filter((w) => w.kind === kind && w.type === type);
  // The list is newest first: a workflow id's first entry is its latest run.
  const latestPerId = (refs: WorkflowRef[]) =>
    refs.filter((w, i) => refs.findIndex((x) => x.workflowId === w.workflowId) === i);

  const [deploys, rollouts, blueGreens, power] = await Promise.all([
    Promise.all(
      latestPerId(ofKind('deploy', 'deployCvm')).map(async (w) => {
        const progress = await withTimeout(w.workflowId, getDeployProgress(client, w.app ?? '')).catch(() => undefined);
        return { ...w, ...(progress ? { progress } : {}) };
      }),
    ),
    Promise.all(
      latestPerId(ofKind('rollout', 'rollout')).map(async (w) => {
        const rollout = await withTimeout(w.workflowId, getRolloutStatus(client, w.workflowId)).catch(
          note(w.workflowId),
        );
        return { ...w, ...(rollout ? { rollout } : {}) };
      }),
    ),
    Promise.all(
      latestPerId(ofKind('bluegreen', 'blueGreen')).map(async (w) => {
        const blueGreen = await withTimeout(w.workflowId, getBlueGreenStatus(client, w.app ?? '')).catch(
          note(w.workflowId),
        );
        return { ...w, ...(blueGreen ? { blueGreen } : {}) };
      }),
    ),
    Promise.all(
      ofKind('power', 'powerSchedule')
        .filter((w) => w.status === 'RUNNING')
        .map(async (w): Promise<PowerView | undefined> => {
          const name = w.workflowId.replace(/^power-/, '');
          const status = await withTimeout(w.workflowId, getPowerStatus(client, name)).catch(note(w.workflowId));
          if (!status) return undefined;
          const calendar = await withTimeout(
            `${w.workflowId} calendar`,
            powerCalendar(client, w.workflowId, w.runId),
          ).catch(note(`${w.workflowId} calendar`));
          const view: PowerView = { ...w, power: status, ...(calendar ? { calendar } : {}) };
          if (calendar) {
            view.week = layoutWeek(calendar, status.now.atMs, 7);
            const perCvm = timeIn(view.week, 'stopped') / 3_600_000;
            const rates = status.cvms.map((c) => rateOf.get(c.cvmId));
            view.hoursOff = {
              perCvm,
              cvmHours: perCvm * status.cvms.length,
              cvms: status.cvms.length,
              // Money only when the API reports a rate for every CVM: a partial sum would understate it.
              ...(rates.length > 0 && rates.every((r) => r !== undefined)
                ? { saved: perCvm * rates.reduce((a, b) => a + b, 0) }
                : {}),
            };
          }
          return view;
        }),
    ).then((views) => views.filter((v): v is PowerView => v !== undefined)),
  ]);
  return {
    atMs: nowMs,
    namespace: source.namespace,
    ...(source.temporalUiUrl ? { temporalUiUrl: source.temporalUiUrl } : {}),
    apps: groupApps(withVerdicts(cvms, recordedVerdicts(deploys, rollouts)), workflows),
    workflows,
    deploys,
    rollouts,
    blueGreens,
    power,
    problems,
  };
}
