// A real Prometheus for the metric-analysis tests: the same launcher the demo uses (src/dev/prometheus.ts).
export { type LocalPrometheus as TestPrometheus, startPrometheus } from '../../src/dev/prometheus';
