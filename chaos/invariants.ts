// What must hold after the storm, each checked from evidence outside the code under test: Temporal's own record of
// every run (and the raw, undecoded histories), the simulator's request log and CVM operation histories, the chain's
// nonce of the worker's account, and every log line the processes wrote.
import { readFileSync } from 'node:fs';
import type { CvmView, RequestLogEntry } from '../src/simulator';
import type { RetryAfterFaults } from './faults';
import type { ScenarioRecord } from './scenarios';
import type { ChaosStack } from './stack';

export interface InvariantResult {
  name: string;
  held: boolean;
  /** What was checked, in numbers. */
  checked: string;
  /** The first few violations. */
  violations: string[];
}

const first = (items: string[], n = 5) => items.slice(0, n);

export function workflowsInvariant(records: ScenarioRecord[], stillRunning: string[]): InvariantResult {
  const bad: string[] = [];
  let n = 0;
  for (const r of records) {
    for (const w of r.workflows) {
      n++;
      if (w.actual !== w.expected)
        bad.push(`${r.id} ${w.workflowId}: ${w.actual}, expected ${w.expected}${w.failure ? ` (${w.failure})` : ''}`);
      else if (w.expectedOutcome && w.actualOutcome !== w.expectedOutcome)
        bad.push(
          `${r.id} ${w.workflowId}: outcome ${w.actualOutcome}, expected ${w.expectedOutcome}${w.failure ? ` (${w.failure})` : ''}`,
        );
    }
    for (const e of r.errors) bad.push(`${r.id} ${r.kind}: ${e}`);
  }
  for (const id of stillRunning) bad.push(`${id} still running at the end`);
  return {
    name: 'every workflow reached its expected terminal state',
    held: bad.length === 0,
    checked: `${n} scenario workflows; ${stillRunning.length} left running in the namespace`,
    violations: first(bad),
  };
}

export function cvmInvariant(records: ScenarioRecord[], live: CvmView[]): InvariantResult {
  const bad: string[] = [];
  const claimed = new Set<number>();
  let expected = 0;
  for (const r of records) {
    for (const e of r.cvms) {
      expected += e.count;
      const found = live.filter((c) =>
        'name' in e.match ? c.name === e.match.name : c.name.startsWith(e.match.prefix),
      );
      for (const c of found) claimed.add(c.id);
      const label = 'name' in e.match ? e.match.name : `${e.match.prefix}*`;
      if (found.length > e.count) bad.push(`${label}: ${found.length} CVMs, expected ${e.count} (duplicates)`);
      else if (found.length < e.count) bad.push(`${label}: ${found.length} CVMs, expected ${e.count} (lost)`);
      const wrong = found.filter((c) => c.status !== e.status);
      if (wrong.length) bad.push(`${label}: ${wrong.map((c) => c.status).join(',')}, expected ${e.status}`);
    }
  }
  const orphans = live.filter((c) => !claimed.has(c.id));
  for (const o of orphans) bad.push(`orphan ${o.name} (${o.vmUuid}, ${o.status})`);
  return {
    name: 'simulator CVMs == expected set (no duplicate, no orphan)',
    held: bad.length === 0,
    checked: `${live.length} live CVMs, ${expected} expected, ${orphans.length} orphans`,
    violations: first(bad),
  };
}

export function chainInvariant(records: ScenarioRecord[], sent: number): InvariantResult {
  const expected = records.reduce((n, r) => n + r.txs, 0);
  return {
    name: 'on-chain transactions == expected',
    held: sent === expected,
    checked: `${sent} sent by the worker's account, ${expected} expected`,
    violations: sent === expected ? [] : [`${sent} transactions, expected ${expected}`],
  };
}

const startMs = (r: RequestLogEntry) => Date.parse(r.at) - r.durationMs;
const endMs = (r: RequestLogEntry) => Date.parse(r.at);

/**
 * Every answer carrying Retry-After (429 / 503 from the fault plan) on a CVM's own route: the next request to the
 * same method and path — the retry — did not start before the answer's end plus Retry-After.
 */
export function retryAfterInvariant(requests: RequestLogEntry[], faults: RetryAfterFaults): InvariantResult {
  const bad: string[] = [];
  let answered = 0;
  let retried = 0;
  const sorted = [...requests].sort((a, b) => startMs(a) - startMs(b));
  for (const r of sorted) {
    const id = r.faults.find((f) => faults.has(f));
    if (!id || r.status < 400) continue;
    answered++;
    const waitMs = faults.get(id)! * 1000;
    const next = sorted.find(
      (n) => n.seq !== r.seq && n.method === r.method && n.path === r.path && startMs(n) >= startMs(r),
    );
    if (!next) continue;
    retried++;
    // 50 ms: the log's timestamps are whole milliseconds and taken at different points of the exchange.
    const early = endMs(r) + waitMs - startMs(next);
    if (early > 50)
      bad.push(`${r.method} ${r.path}: retried ${Math.round(early)} ms before Retry-After ${waitMs / 1000}s`);
  }
  return {
    name: 'no request retried before its Retry-After',
    held: bad.length === 0,
    checked: `${answered} Retry-After answers, ${retried} retried`,
    violations: first(bad),
  };
}

/** Every place a secret could leak to, as text. */
export interface LeakSurface {
  name: string;
  text: string;
}

export function secretsInvariant(
  secrets: { label: string; value: string }[],
  surfaces: LeakSurface[],
): InvariantResult {
  const bad: string[] = [];
  let bytes = 0;
  for (const s of surfaces) {
    bytes += s.text.length;
    const lower = s.text.toLowerCase();
    for (const secret of secrets) {
      if (secret.value.length >= 8 && lower.includes(secret.value.toLowerCase()))
        bad.push(`${secret.label} found in ${s.name}`);
    }
  }
  return {
    name: 'no plaintext secret in histories, logs or errors',
    held: bad.length === 0,
    checked: `${secrets.length} secrets × ${surfaces.length} sources (${(bytes / 1e6).toFixed(1)} MB)`,
    violations: first(bad),
  };
}

const POWER_OPS = new Set(['start', 'stop', 'shutdown', 'restart']);

interface OpSpan {
  cvm: string;
  kind: string;
  from: number;
  to: number;
}

/** The operations the simulator ran on a CVM, from its history: first entry of a correlation id to the settle. */
function opSpans(cvm: CvmView): OpSpan[] {
  const spans = new Map<string, OpSpan>();
  const h = cvm.history;
  for (let i = 0; i < h.length; i++) {
    const e = h[i]!;
    if (!e.correlationId || !e.op) continue;
    const end = h[i + 1]?.ts ?? Number.POSITIVE_INFINITY;
    const span = spans.get(e.correlationId);
    if (span) span.to = end;
    else spans.set(e.correlationId, { cvm: cvm.name, kind: e.op, from: e.ts, to: end });
  }
  return [...spans.values()];
}

/**
 * The per-app lock: on one app, a power action (start / stop / shutdown / restart) never ran while a change
 * (create / update / delete from a deployment, blue-green run or rollout) was in progress, or the other way round.
 */
export function lockInvariant(all: CvmView[], requests: RequestLogEntry[]): InvariantResult {
  const bad: string[] = [];
  const byApp = new Map<string, OpSpan[]>();
  for (const c of all) byApp.set(c.appId, [...(byApp.get(c.appId) ?? []), ...opSpans(c)]);
  let ops = 0;
  for (const [appId, spans] of byApp) {
    ops += spans.length;
    const power = spans.filter((s) => POWER_OPS.has(s.kind));
    const change = spans.filter((s) => !POWER_OPS.has(s.kind));
    for (const p of power) {
      const hit = change.find((c) => p.from < c.to && c.from < p.to);
      if (hit) bad.push(`app ${appId}: ${p.kind} on ${p.cvm} overlapped ${hit.kind} on ${hit.cvm}`);
    }
  }
  const mutating = requests.filter((r) => r.method !== 'GET' && r.status < 300 && r.route?.startsWith('/cvms')).length;
  return {
    name: 'per-app lock never violated',
    held: bad.length === 0,
    checked: `${ops} operations on ${byApp.size} apps from ${mutating} accepted mutating requests`,
    violations: first(bad),
  };
}

/** Text of a history with every payload's bytes decoded: what a reader of the raw database would see. */
export function historyText(history: unknown): string {
  return JSON.stringify(history, (_k, v) => {
    if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
    if (typeof v === 'bigint') return v.toString();
    return v;
  });
}

export function fileText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export type { ChaosStack };
