// A tiny method + path-pattern router: literal segments, `:name` parameters and a trailing `*`.
// Routes are tried in registration order, so literal routes (`/cvms/paginated`) go before `/cvms/:id`.

export interface RouteMatch<H> {
  handler: H;
  params: Record<string, string>;
  pattern: string;
}

interface Route<H> {
  method: string;
  pattern: string;
  segments: string[];
  handler: H;
}

export function splitPath(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

/** Matches `/cvms/:id/start`-style patterns; `*` as the last segment matches any remainder (even empty). */
export function matchPattern(segments: string[], pathSegments: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    if (seg === '*' && i === segments.length - 1) return params;
    const actual = pathSegments[i];
    if (actual === undefined) return undefined;
    if (seg.startsWith(':')) {
      try {
        params[seg.slice(1)] = decodeURIComponent(actual);
      } catch {
        return undefined;
      }
    } else if (seg !== actual) {
      return undefined;
    }
  }
  return segments.length === pathSegments.length ? params : undefined;
}

export class Router<H> {
  private readonly routes: Route<H>[] = [];

  add(method: string, pattern: string, handler: H): this {
    this.routes.push({ method, pattern, segments: splitPath(pattern), handler });
    return this;
  }

  /** `undefined` = no such path; `'method'` = the path exists under another method (405). */
  match(method: string, path: string): RouteMatch<H> | 'method' | undefined {
    const pathSegments = splitPath(path);
    let pathExists = false;
    for (const route of this.routes) {
      const params = matchPattern(route.segments, pathSegments);
      if (!params) continue;
      if (route.method === method) return { handler: route.handler, params, pattern: route.pattern };
      pathExists = true;
    }
    return pathExists ? 'method' : undefined;
  }
}
