/** First import of main.ts: starts OpenTelemetry (when enabled) before anything else loads. */
import { registerTelemetry } from '@solvestream/telemetry';

registerTelemetry('dr-recovery');
