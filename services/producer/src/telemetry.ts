/** First import of main.ts: starts OpenTelemetry (when enabled) before fastify, ioredis and pino load. */
import { registerTelemetry } from '@solvestream/telemetry';

registerTelemetry('producer');
