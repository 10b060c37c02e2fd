// cvmflow's own worker-side metrics, recorded through the Temporal runtime's meter so they are served on the same
// Prometheus endpoint as the SDK's: Phala API calls by endpoint and status, open SSE streams, notifications.
// Workflow-side series (workflows by kind and outcome, phase durations, drift) are in ../workflows/observe.
import type { MetricMeter } from '@temporalio/common';
import type { ApiCallRecord } from '../phala/client';

export interface WorkerMetrics {
  apiCall(call: ApiCallRecord): void;
  openStreams(count: number): void;
  notification(outcome: 'delivered' | 'failed' | 'dropped', eventType: string): void;
}

export function createWorkerMetrics(meter: MetricMeter): WorkerMetrics {
  const calls = meter.createCounter('cvmflow_api_calls_total', 'calls', 'Phala Cloud API calls by endpoint and status');
  const latency = meter.createHistogram('cvmflow_api_call_duration_ms', 'int', 'ms', 'Phala Cloud API call latency');
  const streams = meter.createGauge('cvmflow_sse_streams_open', 'int', 'streams', 'open SSE watch streams');
  const notes = meter.createCounter('cvmflow_notifications_total', 'notifications', 'webhook notifications by outcome');
  return {
    apiCall(call) {
      const tags = { endpoint: call.endpoint, status: String(call.status) };
      calls.add(1, tags);
      latency.record(Math.round(call.durationMs), { endpoint: call.endpoint });
    },
    openStreams(count) {
      streams.set(count);
    },
    notification(outcome, eventType) {
      notes.add(1, { outcome, event: eventType });
    },
  };
}
