/**
 * Preload: the FIRST import of every service's main.ts, so the SDK is running before
 * fastify, ioredis, pino or fetch are loaded. Like main.ts it reads the environment:
 *
 *   SS_TRACING=on|off      force tracing on or off; default: on when an OTLP endpoint is
 *                          configured (OTEL_EXPORTER_OTLP_ENDPOINT or …_TRACES_ENDPOINT)
 *   OTEL_SDK_DISABLED=true the standard kill switch (wins over SS_TRACING)
 *   OTEL_SERVICE_NAME      service.name (default: the name passed by the service)
 *
 * `telemetryHandle()` gives main.ts the handle to shut the SDK down last.
 */
import { startTelemetry, type TelemetryHandle } from './sdk';

const NOOP: TelemetryHandle = { shutdown: async () => undefined };
let handle: TelemetryHandle = NOOP;

export function tracingEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  if (String(env.OTEL_SDK_DISABLED).toLowerCase() === 'true') return false;
  const forced = (env.SS_TRACING ?? '').toLowerCase();
  if (forced === 'on' || forced === 'true') return true;
  if (forced === 'off' || forced === 'false') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/** Starts tracing for `serviceName` if enabled (idempotent). */
export function registerTelemetry(serviceName: string): TelemetryHandle {
  if (handle !== NOOP || !tracingEnabled()) return handle;
  handle = startTelemetry({ serviceName: process.env.OTEL_SERVICE_NAME || serviceName });
  return handle;
}

export const telemetryHandle = (): TelemetryHandle => handle;
