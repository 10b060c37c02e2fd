// The traffic-router contract: a route table per app says where the active and the preview route send traffic.
// Every router — the user's load balancer or DNS automation behind a webhook, or the local reverse proxy — receives
// the same signed JSON, and answers 2xx only once traffic follows it. No Temporal imports here.

/** One deployment traffic can be sent to. */
export interface Upstream {
  /** The deployment's app name, e.g. `web-green-3fa2c1`. */
  name: string;
  /** Base URL requests are forwarded to (its path, if any, is prefixed to the request's). */
  url: string;
  /** What the deployment runs (its compose hash), for logs and for receivers that pin versions. */
  version: string;
}

export interface RouteTable {
  /** The logical app (not a deployment's name). */
  app: string;
  /**
   * Increases with every change of an app's routes, across runs. A receiver applies a table only if its
   * generation is at least the last one it applied (equal = the same change again: answer 2xx, change nothing),
   * so a retried or delayed delivery can never move traffic back.
   */
  generation: number;
  active: Upstream | null;
  preview: Upstream | null;
  /** Why the routes change, for the receiver's logs. */
  reason: string;
}

export interface RouterAck {
  router: string;
  generation: number;
  status: number;
  tookMs: number;
}

export type RouterErrorCode = 'ROUTER_STALE' | 'ROUTER_REJECTED' | 'ROUTER_UNREACHABLE' | 'ROUTER_SECRET';

export class RouterError extends Error {
  constructor(
    readonly code: RouterErrorCode,
    message: string,
    /** Whether trying again may help (network trouble, 5xx) or not (stale table, refused, no key). */
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RouterError';
  }
}

export interface TrafficRouter {
  /** Where route changes go, for messages (never includes the key). */
  describe(): string;
  /** Sends the table; resolves once the receiver confirmed traffic follows it. */
  apply(table: RouteTable, signal?: AbortSignal): Promise<RouterAck>;
}
