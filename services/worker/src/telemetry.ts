/**
 * First import of main.ts: starts OpenTelemetry (when enabled, see
 * @solvestream/telemetry register.ts) before ioredis, pino or fetch are loaded.
 */
import { registerTelemetry } from '@solvestream/telemetry';

registerTelemetry('worker');
