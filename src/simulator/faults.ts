// Fault injection. Route faults act on requests (method + path pattern, optionally one CVM or one API key): an
// error status with optional Retry-After and body, added latency, or SSE effects (drop / stall after N events).
// CVM faults act on the state machine: a CVM that never reaches its target, or crashes to `exited` after a delay;
// and on what a CVM attests: a defect in its attestation, or an attestation that is not available for a while.
// Both come from a JSON profile at start and from the admin API at run time.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { globMatches } from '../domain/glob';
import { matchPattern, splitPath } from './http/router';
import { randomHex } from './ids';
import type { Cvm } from './model';
import { identifies } from './resolve';

const RouteFaultSchema = z
  .object({
    id: z.string().min(1).optional(),
    method: z
      .string()
      .transform((m) => m.toUpperCase())
      .optional(),
    /** Relative to /api/v1, e.g. `/cvms/:id/start`, `/cvms/*`, `*`. */
    path: z.string().min(1),
    cvm: z.string().min(1).optional(),
    apiKeyId: z.string().min(1).optional(),
    status: z.number().int().min(400).max(599).optional(),
    body: z.unknown().optional(),
    /** Seconds (a number) or an HTTP-date, sent verbatim as the Retry-After header. */
    retryAfter: z.union([z.number().int().min(0), z.string().min(1)]).optional(),
    /** Real milliseconds, not scaled by timeScale: it models the network, not the platform. */
    latencyMs: z.number().min(0).optional(),
    count: z.number().int().min(1).optional(),
    probability: z.number().min(0).max(1).optional(),
    sse: z
      .object({
        dropAfterEvents: z.number().int().min(0).optional(),
        stallAfterEvents: z.number().int().min(0).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export const ATTESTATION_FAULTS = ['wrong-compose-hash', 'non-replaying-log', 'unapproved-os-image'] as const;
export type AttestationFault = (typeof ATTESTATION_FAULTS)[number];

const CvmFaultSchema = z
  .object({
    id: z.string().min(1).optional(),
    /**
     * Any identifier form, or a name glob (`web-*`, for CVMs whose names are made at run time); matched lazily, so
     * it may name a CVM that does not exist yet.
     */
    cvm: z.string().min(1),
    neverReachTarget: z.boolean().optional(),
    /** Simulated milliseconds (scaled by timeScale) after reaching `running`. */
    crashAfterMs: z.number().min(0).optional(),
    /**
     * What the CVM's attestation proves instead of the truth: another compose than the one deployed, an event log
     * that does not replay to its RTMR3, or an OS image other than the one the API reports. Each is internally
     * consistent apart from the one defect, so a verifier must name exactly that measurement.
     */
    attestation: z.enum(ATTESTATION_FAULTS).optional(),
    /** Simulated milliseconds after reaching `running` during which the attestation route answers 409. */
    attestationDelayMs: z.number().min(0).optional(),
    count: z.number().int().min(1).optional(),
  })
  .strict();

export const FaultProfileSchema = z
  .object({ routes: z.array(RouteFaultSchema).optional(), cvms: z.array(CvmFaultSchema).optional() })
  .strict();

export type RouteFaultInput = z.input<typeof RouteFaultSchema>;
export type CvmFaultInput = z.input<typeof CvmFaultSchema>;
export type FaultProfile = z.input<typeof FaultProfileSchema>;
export type RouteFault = z.output<typeof RouteFaultSchema> & { id: string; fired: number };
export type CvmFault = z.output<typeof CvmFaultSchema> & { id: string; fired: number };

export class FaultProfileError extends Error {
  readonly code = 'FAULT_PROFILE_INVALID';
}

/** Validates a profile and names the offending field (`routes.0.status: …`). */
export function parseFaultProfile(input: unknown, source = 'fault profile'): z.output<typeof FaultProfileSchema> {
  const result = FaultProfileSchema.safeParse(input);
  if (result.success) return result.data;
  const first = result.error.issues[0]!;
  throw new FaultProfileError(`${source}: ${first.path.join('.') || '(root)'}: ${first.message}`);
}

export function loadFaultProfileFile(path: string): z.output<typeof FaultProfileSchema> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new FaultProfileError(`cannot read fault profile ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new FaultProfileError(`fault profile ${path} is not JSON: ${(err as Error).message}`);
  }
  return parseFaultProfile(json, path);
}

export interface RouteFaultQuery {
  method: string;
  path: string;
  keyId: string | null;
  /** The CVM the `:id` segment resolves to, when the route has one. */
  cvm: Cvm | undefined;
}

export interface FiredFaults {
  ids: string[];
  latencyMs: number;
  error: RouteFault | undefined;
  sse: RouteFault['sse'];
}

const cvmMatches = (raw: string, cvm: Cvm) => (/[*?]/.test(raw) ? globMatches(raw, cvm.name) : identifies(raw, cvm));

export class FaultRegistry {
  private routes: RouteFault[] = [];
  private cvms: CvmFault[] = [];

  constructor(private readonly random: () => number = Math.random) {}

  add(profile: FaultProfile): { routes: RouteFault[]; cvms: CvmFault[] } {
    const parsed = parseFaultProfile(profile);
    const routes = (parsed.routes ?? []).map((r) => ({ ...r, id: r.id ?? `rf_${randomHex(4)}`, fired: 0 }));
    const cvms = (parsed.cvms ?? []).map((c) => ({ ...c, id: c.id ?? `cf_${randomHex(4)}`, fired: 0 }));
    for (const f of [...routes, ...cvms]) this.remove(f.id);
    this.routes.push(...routes);
    this.cvms.push(...cvms);
    return { routes, cvms };
  }

  remove(id: string): boolean {
    const before = this.routes.length + this.cvms.length;
    this.routes = this.routes.filter((f) => f.id !== id);
    this.cvms = this.cvms.filter((f) => f.id !== id);
    return before !== this.routes.length + this.cvms.length;
  }

  clear(): void {
    this.routes = [];
    this.cvms = [];
  }

  list(): { routes: RouteFault[]; cvms: CvmFault[] } {
    return { routes: [...this.routes], cvms: [...this.cvms] };
  }

  /** Whether a route fault needs the request's CVM resolved (only then does the server pay for resolution). */
  needsCvm(): boolean {
    return this.routes.some((f) => f.cvm !== undefined);
  }

  /** Rolls every matching rule; fired rules count down and expire. */
  fire(q: RouteFaultQuery): FiredFaults {
    const fired: FiredFaults = { ids: [], latencyMs: 0, error: undefined, sse: undefined };
    const segments = splitPath(q.path);
    for (const f of [...this.routes]) {
      if (f.method && f.method !== q.method) continue;
      if (!matchPattern(splitPath(f.path), segments)) continue;
      if (f.apiKeyId && f.apiKeyId !== q.keyId) continue;
      if (f.cvm && !(q.cvm && identifies(f.cvm, q.cvm))) continue;
      if (f.probability !== undefined && this.random() >= f.probability) continue;
      this.consume(f);
      fired.ids.push(f.id);
      fired.latencyMs += f.latencyMs ?? 0;
      if (f.status !== undefined && !fired.error) fired.error = f;
      if (f.sse && !fired.sse) fired.sse = f.sse;
    }
    return fired;
  }

  /** The behaviour fault for a CVM at a given moment; consumes one use of it. */
  cvmFault(
    cvm: Cvm,
    want: 'neverReachTarget' | 'crashAfterMs' | 'attestation' | 'attestationDelayMs',
  ): CvmFault | undefined {
    const f = this.cvms.find((c) => c[want] !== undefined && c[want] !== false && cvmMatches(c.cvm, cvm));
    if (f) this.consume(f);
    return f;
  }

  private consume(f: RouteFault | CvmFault): void {
    f.fired++;
    if (f.count !== undefined && f.fired >= f.count) this.remove(f.id);
  }
}
