// Optional OpenTelemetry tracing of the worker: a span per workflow run, activity and outbound call, exported over
// OTLP/HTTP (JSON) when the standard OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set.
// Built on @temporalio/interceptors-opentelemetry (the SDK's own, same version): trace context travels in Temporal
// headers, so a workflow's spans and its activities' spans join one trace. Off by default, at zero cost: the
// interceptors are only bundled into the workflow code of a worker that traces.
import { createRequire } from 'node:module';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/worker/index.js';
import type { WorkerOptions } from '@temporalio/worker';

/** The workflow-side interceptors module, bundled with the workflow code when tracing is on. */
export const OTEL_WORKFLOW_INTERCEPTORS = createRequire(import.meta.url).resolve(
  '@temporalio/interceptors-opentelemetry/lib/workflow-interceptors',
);

export interface WorkerTracing {
  /** Worker options to merge: activity interceptors and the sink that exports workflow spans. */
  interceptors: NonNullable<WorkerOptions['interceptors']>;
  sinks: NonNullable<WorkerOptions['sinks']>;
  /** Flushes spans still buffered; call on shutdown. */
  shutdown(): Promise<void>;
  endpoint: string;
}

export function tracingEndpoint(env: NodeJS.ProcessEnv): string | undefined {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  return base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined;
}

/** Tracing as the environment asks for it; undefined when no OTLP endpoint is set. */
export function createWorkerTracing(env: NodeJS.ProcessEnv = process.env): WorkerTracing | undefined {
  const endpoint = tracingEndpoint(env);
  if (!endpoint) return undefined;
  const resource = new Resource({ 'service.name': env.OTEL_SERVICE_NAME?.trim() || 'cvmflow-worker' });
  const processor = new BatchSpanProcessor(new OTLPTraceExporter({ url: endpoint }), { scheduledDelayMillis: 1000 });
  const provider = new BasicTracerProvider({ resource });
  provider.addSpanProcessor(processor);
  // W3C trace context in the Temporal headers, and an async context so an activity's own spans nest under it.
  provider.register({
    propagator: new W3CTraceContextPropagator(),
    contextManager: new AsyncLocalStorageContextManager(),
  });
  return {
    endpoint,
    interceptors: {
      activity: [
        (ctx) => ({
          inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
          outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
        }),
      ],
    },
    sinks: { exporter: makeWorkflowExporter(processor, resource) },
    shutdown: () => provider.shutdown(),
  };
}
