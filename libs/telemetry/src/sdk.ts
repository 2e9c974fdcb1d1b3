/**
 * Starting and stopping the OpenTelemetry NodeSDK. It must start before the app's
 * modules load (otherwise instrumentations see nothing): services import
 * `@solvestream/telemetry/register` as the FIRST import of their main.ts.
 *
 * Instrumentations in use only (opentelemetry-js #3029: every extra one costs start-up):
 * http, undici (global fetch, the provider client), ioredis (only spans with a parent:
 * the idle blocking-read loop emits nothing), pino (trace_id/span_id in log lines), and
 * fastify through @fastify/otel. Export is OTLP, configured by the standard OTEL_*
 * variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL, …).
 *
 * This module is heavy (the SDK and every instrumentation package: ≈ 55 MB of RSS and
 * ≈ 1 s of start-up on the 2-core machine) and is loaded only when tracing is on:
 * nothing imports it at run time except `loadSdk()` in register.ts.
 */
import { NodeSDK } from '@opentelemetry/sdk-node';
import { getNodeAutoInstrumentations } from '@opentelemetry/auto-instrumentations-node';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { tracing as sdkTracing, type tracing } from '@opentelemetry/sdk-node';

import { UNTRACED_PATHS } from './untraced';
import { buildSampler, type SamplerSetting } from './sampler';
import { clientUrlAttributes, pathOnly, redisStatement, serverQueryAttributes } from './redact';
import { buildSpanExport, type ExportSetting, type SpanCounts } from './span-export';

type SpanProcessor = tracing.SpanProcessor;

const IN_USE = new Set([
  '@opentelemetry/instrumentation-http',
  '@opentelemetry/instrumentation-undici',
  '@opentelemetry/instrumentation-ioredis',
  '@opentelemetry/instrumentation-pino',
]);

export interface TelemetryOptions {
  serviceName: string;
  serviceVersion?: string;
  /** Span processors to use instead of the OTLP exporter (tests). */
  spanProcessors?: SpanProcessor[];
  /**
   * Export the instrumentations' OTel metrics and log records over OTLP as well (the
   * SDK's own default). Off unless asked for: metrics are Prometheus `/metrics` here,
   * logs are pino's stdout, and Jaeger takes traces only. Left on, every process sent
   * metrics to the trace endpoint each minute and recorded an http.client histogram per
   * provider request (≈ 2 % of the worker's CPU with tracing on).
   */
  otlpMetrics?: boolean;
  otlpLogs?: boolean;
  /**
   * OTEL_TRACES_SAMPLER / _ARG (see sampler.ts: spans that link to a task follow its
   * decision). Absent: parentbased_always_on. Read from the environment by
   * registerTelemetry (register.ts), not here.
   */
  sampler?: SamplerSetting;
  /**
   * OTEL_TRACES_EXPORTER, the OTLP protocol and the OTEL_BSP_* queue settings (see
   * span-export.ts for the defaults and why they differ from the SDK's). Read from the
   * environment by registerTelemetry; ignored when `spanProcessors` is given.
   */
  export?: ExportSetting;
}

export interface TelemetryHandle {
  /** Flushes and stops; call it last in the shutdown sequence. Safe to call twice. */
  shutdown(): Promise<void>;
  /** What became of this process's sampled spans so far; undefined when nothing is exported. */
  spanCounts(): SpanCounts | undefined;
}

/**
 * getNodeAutoInstrumentations CONSTRUCTS every instrumentation it is not told to skip, and
 * constructing one enables it (it patches its module): filtering its list afterwards, as
 * this did, left net, dns and the others active (a `tcp.connect` span per connection, a
 * `dns.lookup` span, patched modules). Its own switch is OTEL_NODE_ENABLED_INSTRUMENTATIONS,
 * set to IN_USE for the call only (a value set by the operator is restored after it).
 */
function buildOnlyInUse<T>(build: () => T): T {
  const prev = process.env.OTEL_NODE_ENABLED_INSTRUMENTATIONS;
  process.env.OTEL_NODE_ENABLED_INSTRUMENTATIONS = [...IN_USE].map((n) => n.replace('@opentelemetry/instrumentation-', '')).join(',');
  try {
    return build();
  } finally {
    if (prev === undefined) delete process.env.OTEL_NODE_ENABLED_INSTRUMENTATIONS;
    else process.env.OTEL_NODE_ENABLED_INSTRUMENTATIONS = prev;
  }
}

export function startTelemetry(o: TelemetryOptions): TelemetryHandle {
  const exported = o.spanProcessors ? undefined : buildSpanExport(o.export);
  const spanProcessors = exported ? [exported.processor] : o.spanProcessors;
  const instrumentations = buildOnlyInUse(() => getNodeAutoInstrumentations({
    '@opentelemetry/instrumentation-http': {
      ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.includes(pathOnly(req.url ?? '')),
      // Applied after the instrumentation's own attributes: url.query / url.full redacted
      // by redact.ts's pattern (its built-in redaction takes exact names only).
      startIncomingSpanHook: (request) => serverQueryAttributes(request.url),
      startOutgoingSpanHook: (o) => clientUrlAttributes(`${o.protocol ?? 'http:'}//${o.hostname ?? o.host ?? 'localhost'}${o.port ? `:${o.port}` : ''}`, o.path ?? '/'),
    },
    '@opentelemetry/instrumentation-undici': { startSpanHook: (request) => clientUrlAttributes(request.origin, request.path) },
    '@opentelemetry/instrumentation-ioredis': { requireParentSpan: true, dbStatementSerializer: redisStatement },
    '@opentelemetry/instrumentation-pino': { disableLogSending: true },
  }));
  const sdk = new NodeSDK({
    serviceName: o.serviceName,
    instrumentations: [
      ...instrumentations,
      // The request span only: no span per lifecycle hook (three more per submit, named
      // after the hook function's source text) and no `handler - <plugin>` child, which
      // spanned nearly all of its parent and was one span in five of a traced submit.
      new FastifyOtelInstrumentation({
        registerOnInitialization: true, instrumentHooks: false, instrumentHandler: false,
        ignorePaths: (opts) => UNTRACED_PATHS.includes(pathOnly(opts.url)),
        // It records `request.url` as url.path, query (and a gateway client's key) included.
        requestHook: (span, request) => { span.setAttribute('url.path', pathOnly(request.url)); },
      }),
    ],
    sampler: buildSampler(o.sampler),
    spanProcessors,
    // An empty list is "none" to the SDK; undefined lets it read OTEL_*_EXPORTER.
    ...(o.otlpMetrics ? {} : { metricReaders: [] }),
    ...(o.otlpLogs ? {} : { logRecordProcessors: [] }),
  });
  sdk.start();
  let done: Promise<void> | undefined;
  return { shutdown: () => (done ??= sdk.shutdown().catch(() => undefined)), spanCounts: () => exported?.counts };
}

export interface InMemoryTelemetry extends TelemetryHandle {
  /** Spans ended so far (SDK objects: name, kind, links, attributes, parentSpanContext). */
  spans(): tracing.ReadableSpan[];
  reset(): void;
}

/**
 * Tracing into memory instead of OTLP, for tests that assert on spans in-process: the
 * full SDK (context manager, W3C propagator, tracer provider) with a synchronous
 * exporter. Cross-process tests use a real OTLP receiver instead.
 */
export function startInMemoryTelemetry(serviceName = 'test', sampler?: SamplerSetting): InMemoryTelemetry {
  const exporter = new sdkTracing.InMemorySpanExporter();
  const handle = startTelemetry({ serviceName, sampler, spanProcessors: [new sdkTracing.SimpleSpanProcessor(exporter)] });
  return { ...handle, spans: () => exporter.getFinishedSpans(), reset: () => exporter.reset() };
}
