// The provider interface: a provider takes one measurement of a metric and says what it means. Providers never
// retry and never count; the runner (src/analysis/run.ts) does both, the same way for every provider. A provider
// tells a failure (the metric says no) from an error (no usable answer), because errors are retried.
import type { MetricSpec, ProviderSpec, Vars, Verdict } from './types';

export interface MeasureContext {
  vars: Vars;
  /** Aborted when the measurement's timeout passes or the analysis ends. */
  signal: AbortSignal;
  timeoutMs: number;
  /** Where header values (`fromEnv`) are read: the worker's environment. */
  env: NodeJS.ProcessEnv;
}

export interface ProviderMeasurement {
  verdict: Verdict;
  query: string;
  value: string;
  detail: string;
}

export interface Provider<P extends ProviderSpec = ProviderSpec> {
  type: P['type'];
  measure(provider: P, metric: MetricSpec, ctx: MeasureContext): Promise<ProviderMeasurement>;
}

/** Fills `{name}` placeholders; unknown ones stay as they are (a literal `{` in a URL or PromQL is left alone). */
export function fill(template: string, vars: Vars, encode: (value: string) => string = (v) => v): string {
  return template.replace(/\{([a-zA-Z][a-zA-Z0-9]*)\}/g, (whole, key: string) =>
    Object.hasOwn(vars, key) ? encode(vars[key]!) : whole,
  );
}
