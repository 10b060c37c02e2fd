// The vocabulary of metric analysis, shared by the spec (which produces metrics), the providers (which measure
// them), the runner (which judges them by Argo Rollouts' rules) and the workflows (which only see the results).
// Plain data, no I/O: workflows import these types, and results travel through Temporal's history.

/** Argo's rules for one metric: how often to measure, how many times, and how many bad answers are tolerated. */
export interface MetricRules {
  /** Measurements taken; the metric passes when all are taken within the limits. */
  count: number;
  intervalMs: number;
  /** Wait before the first measurement (metrics need samples of the new version first). */
  initialDelayMs: number;
  /** Failed measurements tolerated; one more fails the metric. */
  failureLimit: number;
  /** Inconclusive measurements tolerated; one more makes the metric inconclusive. */
  inconclusiveLimit: number;
  /** Errors in a row tolerated (no answer, a bad answer); errors are retried and are not failures. */
  consecutiveErrorLimit: number;
  /** Measured and recorded, never deciding: a new metric is tried out this way. */
  dryRun: boolean;
  /** One measurement's deadline. */
  timeoutMs: number;
}

/** A header whose value is read by the worker, never carried in the spec or the history. */
export interface HeaderSource {
  name: string;
  fromEnv?: string;
  fromFile?: string;
}

export interface WebProvider {
  type: 'web';
  /** `{placeholder}`s are filled in; the check answers `{"result": "pass" | "fail" | "inconclusive"}`. */
  url: string;
  method: 'GET' | 'POST';
}

export interface PrometheusProvider {
  type: 'prometheus';
  /** The Prometheus server, e.g. `http://127.0.0.1:9090`. */
  address: string;
  /** PromQL with `{app}`, `{version}`, `{cvm}`, … placeholders. */
  query: string;
  /** A range query over the last `rangeMs` at `stepMs` (result: one list of values per series); absent: instant. */
  range?: { rangeMs: number; stepMs: number };
  headers: HeaderSource[];
}

export interface JobProvider {
  type: 'job';
  /** argv, run by the worker without a shell; `{placeholder}`s are filled in per argument. Exit 0 = success. */
  command: string[];
}

export type ProviderSpec = WebProvider | PrometheusProvider | JobProvider;

export interface MetricSpec extends MetricRules {
  name: string;
  provider: ProviderSpec;
  /** Over `result`; see src/analysis/condition.ts. Prometheus only. */
  successCondition?: string;
  failureCondition?: string;
}

export type Verdict = 'pass' | 'fail' | 'inconclusive' | 'error';

/** One measurement as recorded in history: what was asked, what came back, what it means. */
export interface Measurement {
  atMs: number;
  verdict: Verdict;
  /** The query (or URL, or command) as sent, placeholders filled in. */
  query: string;
  /** The value the condition judged, or what went wrong. */
  value: string;
  detail: string;
}

export interface MetricResult {
  name: string;
  provider: ProviderSpec['type'];
  dryRun: boolean;
  verdict: Verdict;
  /** Why: the metric, the value and the condition (for a failure), or the last error. */
  reason: string;
  counts: { taken: number; passes: number; failures: number; inconclusive: number; errors: number };
  /** The most recent measurements (older ones are counted only). */
  measurements: Measurement[];
}

export interface AnalysisResult {
  verdict: Verdict;
  /** The first deciding metric's reason, or a summary. */
  reason: string;
  metrics: MetricResult[];
}

/** Values for `{name}` placeholders. */
export type Vars = Record<string, string>;
