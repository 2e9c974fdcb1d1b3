/**
 * @solvestream/telemetry — tracing (OpenTelemetry) and the helpers that carry trace
 * context through stream entries. Metrics live with each service (prom-client).
 */
export * from './semconv';
export * from './trace-context';
export * from './sdk';
export * from './metrics';
export * from './ops-server';
export { registerTelemetry, telemetryHandle, tracingEnabled } from './register';
export type { Span, SpanContext } from '@opentelemetry/api';
