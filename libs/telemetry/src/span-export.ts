/**
 * The trace export pipeline: a BatchSpanProcessor in front of the exporter, sized for a
 * service that ends thousands of spans a second, and counts of what became of every
 * sampled span (exported, dropped, failed) for `/metrics`.
 *
 * Why not the SDK's own: its BatchSpanProcessor holds at most 2,048 finished spans
 * (OTEL_BSP_MAX_QUEUE_SIZE) and sends 512 per request, one request at a time; a span that
 * ends while the queue is full is dropped, silently (a debug line on the unwired `diag`
 * logger). Measured on the 2-core bench, 10,000 submits in a burst with 256 outstanding:
 * the producer exported 1,823 of 10,000 HTTP request spans and 9,499 of 10,000 submit
 * spans, so most traces had no root; with room for 65,536 every span arrived. The queue
 * must hold what the services end during one export round trip (a remote collector is
 * slower than the bench's local sink), and bigger requests mean fewer round trips.
 *
 * Defaults (each an OTEL_BSP_* variable, read by register.ts):
 *   queue 16,384 spans  ≈ the producer's spans for ≈ 4,000 submits; a full queue (and
 *                        the batch in flight) measured ≈ 21 MB of heap, ≈ 1.1 KB a span
 *   batch 2,048 spans   ≈ 750 KB of OTLP protobuf per request in the bench (Jaeger's
 *                        OTLP receivers take 4 MiB over gRPC by default, more over HTTP)
 *   delay 5 s, export timeout 30 s: the SDK's.
 *
 * Counting uses the processor's own self-observability hook (`selfObsMeterProvider`,
 * metric `otel.sdk.processor.span.processed`, `error.type` = `queue_full` when dropped),
 * not its internals.
 */
import { createNoopMeter, type Attributes, type Counter, type Meter, type MeterProvider, type MetricOptions } from '@opentelemetry/api';
import { OTLPTraceExporter as OtlpGrpc } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as OtlpJson } from '@opentelemetry/exporter-trace-otlp-http';
import { BatchSpanProcessor, ConsoleSpanExporter, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { protobufSpanExporter } from './otlp-proto';

/** The standard variables, as strings from the environment (register.ts reads them). */
export interface ExportSetting {
  /** OTEL_TRACES_EXPORTER: `otlp` (default) or `console`. */
  exporter?: string;
  /** OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? OTEL_EXPORTER_OTLP_PROTOCOL: `http/protobuf` (default), `http/json`, `grpc`. */
  protocol?: string;
  /** OTEL_BSP_MAX_QUEUE_SIZE, spans (default 16,384). */
  maxQueueSize?: string;
  /** OTEL_BSP_MAX_EXPORT_BATCH_SIZE, spans per request (default 2,048; at most the queue size). */
  maxExportBatchSize?: string;
  /** OTEL_BSP_SCHEDULE_DELAY, ms before a part-full batch is sent (default 5,000). */
  scheduleDelayMs?: string;
  /** OTEL_BSP_EXPORT_TIMEOUT, ms (default 30,000). */
  exportTimeoutMs?: string;
}

/** What became of the sampled spans that ended in this process. */
export interface SpanCounts {
  /** Accepted by the collector. */
  exported: number;
  /** Never sent: they ended while the export queue was full. */
  dropped: number;
  /** Sent, but the export failed or timed out: lost too. */
  failed: number;
}

const DEFAULT_EXPORT = { maxQueueSize: 16_384, maxExportBatchSize: 2_048, scheduleDelayMs: 5_000, exportTimeoutMs: 30_000 } as const;

/** The semantic-conventions metric the SDK's span processors report to (otel.sdk.*). */
const PROCESSED = 'otel.sdk.processor.span.processed';

function positive(variable: string, value: string | undefined, dflt: number): number {
  if (value === undefined || value.trim() === '') return dflt;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${variable} must be a whole number of at least 1, got "${value}"`);
  return n;
}

function exporterFor(s: ExportSetting): SpanExporter {
  const name = (s.exporter || 'otlp').trim().toLowerCase();
  if (name === 'console') return new ConsoleSpanExporter();
  if (name !== 'otlp') throw new Error(`OTEL_TRACES_EXPORTER "${s.exporter}" is not one of otlp, console (or none: tracing off)`);
  const protocol = (s.protocol || 'http/protobuf').trim().toLowerCase();
  switch (protocol) {
    // The SDK's exporter with our encoder (otlp-proto.ts: the same bytes, a fraction of the CPU).
    case 'http/protobuf': return protobufSpanExporter();
    case 'http/json': return new OtlpJson();
    case 'grpc': return new OtlpGrpc();
    default:
      throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL (or _TRACES_PROTOCOL) "${s.protocol}" is not one of http/protobuf, http/json, grpc`);
  }
}

/** A meter that feeds the processor's `processed` counter into `counts` and ignores the rest. */
function countingMeterProvider(counts: SpanCounts): MeterProvider {
  const noop = createNoopMeter();
  const processed: Counter = {
    add(n: number, attributes?: Attributes): void {
      const error = attributes?.['error.type'];
      if (error === undefined) counts.exported += n;
      else if (error === 'queue_full') counts.dropped += n;
      else counts.failed += n;
    },
  };
  const meter: Meter = Object.assign(Object.create(noop) as Meter, {
    createCounter: (name: string, options?: MetricOptions): Counter => (name === PROCESSED ? processed : noop.createCounter(name, options)),
  });
  return { getMeter: () => meter };
}

/** The processor to hand the SDK, and the live counts it keeps; throws naming a bad variable. */
export function buildSpanExport(s: ExportSetting = {}): { processor: SpanProcessor; counts: SpanCounts } {
  const maxQueueSize = positive('OTEL_BSP_MAX_QUEUE_SIZE', s.maxQueueSize, DEFAULT_EXPORT.maxQueueSize);
  const maxExportBatchSize = positive('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', s.maxExportBatchSize, Math.min(DEFAULT_EXPORT.maxExportBatchSize, maxQueueSize));
  if (maxExportBatchSize > maxQueueSize) {
    throw new Error(`OTEL_BSP_MAX_EXPORT_BATCH_SIZE (${maxExportBatchSize}) must not exceed OTEL_BSP_MAX_QUEUE_SIZE (${maxQueueSize})`);
  }
  const counts: SpanCounts = { exported: 0, dropped: 0, failed: 0 };
  // sdk-trace's processor takes its options as given (sdk-trace-base's shim would fill
  // gaps from the environment itself).
  const processor = new BatchSpanProcessor({
    exporter: exporterFor(s),
    maxQueueSize,
    maxExportBatchSize,
    scheduledDelayMillis: positive('OTEL_BSP_SCHEDULE_DELAY', s.scheduleDelayMs, DEFAULT_EXPORT.scheduleDelayMs),
    exportTimeoutMillis: positive('OTEL_BSP_EXPORT_TIMEOUT', s.exportTimeoutMs, DEFAULT_EXPORT.exportTimeoutMs),
    selfObsMeterProvider: countingMeterProvider(counts),
  });
  return { processor, counts };
}
