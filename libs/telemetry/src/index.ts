/**
 * @solvestream/telemetry — tracing (OpenTelemetry) and the helpers that carry trace
 * context through stream entries. Metrics live with each service (prom-client).
 */
export * from './semconv';
export * from './trace-context';
export type { InMemoryTelemetry, TelemetryHandle, TelemetryOptions } from './sdk';
export { UNTRACED_PATHS } from './untraced';
export * from './metrics';
export * from './ops-server';
export { registerTelemetry, startInMemoryTelemetry, startTelemetry, telemetryHandle, tracingEnabled } from './register';
export type { Span, SpanContext } from '@opentelemetry/api';
