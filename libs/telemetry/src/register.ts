/**
 * Preload: the FIRST import of every service's main.ts, so the SDK is running before
 * fastify, ioredis, pino or fetch are loaded. Like main.ts it reads the environment:
 *
 *   SS_TRACING=on|off      force tracing on or off; default: on when an OTLP endpoint is
 *                          configured (OTEL_EXPORTER_OTLP_ENDPOINT or …_TRACES_ENDPOINT)
 *   OTEL_SDK_DISABLED=true the standard kill switch (wins over SS_TRACING)
 *   OTEL_SERVICE_NAME      service.name (default: the name passed by the service)
 *   OTEL_METRICS_EXPORTER  set (e.g. `otlp`): the instrumentations' OTel metrics are
 *                          exported too; unset: none (Prometheus `/metrics` is the metrics path)
 *   OTEL_LOGS_EXPORTER     set: OTel log records are exported too; unset: none
 *   OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG   the standard sampler (sampler.ts: with
 *                          a parent-based one, spans that link to a task follow its decision)
 *   OTEL_TRACES_EXPORTER   otlp (default) | console | none (= tracing off)
 *   OTEL_EXPORTER_OTLP_TRACES_PROTOCOL / OTEL_EXPORTER_OTLP_PROTOCOL   http/protobuf (default),
 *                          http/json, grpc
 *   OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE, OTEL_BSP_SCHEDULE_DELAY,
 *   OTEL_BSP_EXPORT_TIMEOUT   the export queue (span-export.ts: larger defaults than the SDK's)
 *
 * `telemetryHandle()` gives main.ts the handle to shut the SDK down last.
 */
import type { InMemoryTelemetry, TelemetryHandle, TelemetryOptions } from './sdk';
import type { SamplerSetting } from './sampler';
import type { ExportSetting } from './span-export';

/**
 * The SDK module, loaded on first use. A static import would load the SDK and every
 * instrumentation into each process, traced or not (≈ 55 MB of RSS, ≈ 1 s of start-up).
 */
function loadSdk(): typeof import('./sdk') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./sdk') as typeof import('./sdk');
}

/** Starts the NodeSDK exporting OTLP (or into `spanProcessors`); see sdk.ts. */
export function startTelemetry(o: TelemetryOptions): TelemetryHandle {
  return loadSdk().startTelemetry(o);
}

/** Tracing into memory for in-process span assertions (tests); see sdk.ts. */
export function startInMemoryTelemetry(serviceName?: string, sampler?: SamplerSetting): InMemoryTelemetry {
  return loadSdk().startInMemoryTelemetry(serviceName, sampler);
}

/** The export variables as given (validated where the processor is built, span-export.ts). */
function exportSetting(env: NodeJS.ProcessEnv): ExportSetting {
  return {
    exporter: env.OTEL_TRACES_EXPORTER,
    protocol: env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL,
    maxQueueSize: env.OTEL_BSP_MAX_QUEUE_SIZE,
    maxExportBatchSize: env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
    scheduleDelayMs: env.OTEL_BSP_SCHEDULE_DELAY,
    exportTimeoutMs: env.OTEL_BSP_EXPORT_TIMEOUT,
  };
}

const NOOP: TelemetryHandle = { shutdown: async () => undefined, spanCounts: () => undefined };
let handle: TelemetryHandle = NOOP;

export function tracingEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  if (String(env.OTEL_SDK_DISABLED).toLowerCase() === 'true') return false;
  if ((env.OTEL_TRACES_EXPORTER ?? '').trim().toLowerCase() === 'none') return false;
  const forced = (env.SS_TRACING ?? '').toLowerCase();
  if (forced === 'on' || forced === 'true') return true;
  if (forced === 'off' || forced === 'false') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/** Starts tracing for `serviceName` if enabled (idempotent). */
export function registerTelemetry(serviceName: string): TelemetryHandle {
  if (handle !== NOOP || !tracingEnabled()) return handle;
  handle = startTelemetry({
    serviceName: process.env.OTEL_SERVICE_NAME || serviceName,
    otlpMetrics: Boolean(process.env.OTEL_METRICS_EXPORTER), otlpLogs: Boolean(process.env.OTEL_LOGS_EXPORTER),
    sampler: { name: process.env.OTEL_TRACES_SAMPLER, arg: process.env.OTEL_TRACES_SAMPLER_ARG },
    export: exportSetting(process.env),
  });
  return handle;
}

export const telemetryHandle = (): TelemetryHandle => handle;
