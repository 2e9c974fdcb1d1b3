/** Supervisor configuration: every variable, its default and meaning. Parsed once in main.ts. */
import { env, type ParsedEnv } from '@solvestream/core';
import { DEFAULT_RECLAIM_HOLD_MS } from './reclaimer';

export const SUPERVISOR_ENV = {
  REDIS_URL: env.url({ doc: 'Redis URL', default: 'redis://127.0.0.1:6379', protocols: ['redis:', 'rediss:'], secret: true }),
  KEY_PREFIX: env.string({ doc: 'Prefix of every Redis key', default: 'ss', pattern: /^[A-Za-z0-9_.-]{1,32}$/, hint: '1-32 of [A-Za-z0-9_.-]' }),
  PARTITION: env.string({ doc: 'Partition name (the Redis Cluster hash tag)', default: 'p0', pattern: /^[A-Za-z0-9_-]{1,32}$/, hint: '1-32 of [A-Za-z0-9_-]' }),
  PORT: env.int({ doc: 'Ops HTTP port (probes, dead-letter admin)', default: 8081, min: 0, max: 65535 }),
  HOST: env.string({ doc: 'Ops HTTP interface', default: '127.0.0.1' }),
  LEASE_MS: env.int({ doc: 'An entry idle this long belongs to a dead or frozen worker and is reclaimed, ms (must match the workers)', default: 30_000, min: 300, max: 3_600_000 }),
  SUPERVISOR_INTERVAL_MS: env.int({ doc: 'Period of the reclaim / promote loop, ms', default: 1000, min: 20, max: 60_000 }),
  RECLAIM_HOLD_MS: env.int({ doc: 'A reclaimed task that was claimed but has no provider checkpoint waits this long before its next delivery, ms, so a frozen worker that wakes can hand over the provider id it paid for (no second payment); keep well above the workers\' CHECKPOINT_CHECK_MS; 0 = none', default: DEFAULT_RECLAIM_HOLD_MS, min: 0, max: 600_000 }),
  MAX_FAILURES: env.int({ doc: 'Failed deliveries after which a task is dead-lettered (must match the workers)', default: 5, min: 1, max: 100 }),
  CONSUMER_SWEEP_MS: env.int({ doc: 'How often consumers of dead workers are removed, ms', default: 60_000, min: 1000 }),
  ADMIN_TOKEN: env.optional(env.string({ doc: 'Bearer token required by the dead-letter admin routes (unset: no auth; keep the port internal)', secret: true })),
  LOG_LEVEL: env.oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, { doc: 'pino log level', default: 'info' }),
  // Degradation mode (src/mode.ts): what producers admit while the fleet is in trouble.
  MODE_CONTROL: env.oneOf(['auto', 'off'] as const, { doc: 'auto: compute the degradation mode and store it for the producers; off: leave it alone', default: 'auto' }),
  MODE_DEGRADED_ERROR_RATE: env.number({ doc: 'Enter degraded at this failed/(solved+failed) over the last minute (leave below 60% of it)', default: 0.5, min: 0, max: 1 }),
  MODE_EMERGENCY_ERROR_RATE: env.number({ doc: 'Enter emergency at this error rate (leave below 78% of it)', default: 0.9, min: 0, max: 1 }),
  MODE_DEGRADED_QUEUE_DEPTH: env.int({ doc: 'Enter degraded at this many lane entries + delayed retries (leave below 60% of it)', default: 50_000, min: 1 }),
  MODE_EMERGENCY_QUEUE_DEPTH: env.int({ doc: 'Enter emergency at this queue depth (leave below 78% of it)', default: 90_000, min: 1 }),
  MODE_ENTER_AFTER_MS: env.int({ doc: 'A condition must hold this long before the mode goes up, ms', default: 30_000, min: 0 }),
  MODE_EXIT_AFTER_MS: env.int({ doc: 'Calm must hold this long before the mode steps down, ms', default: 60_000, min: 0 }),
};
export type SupervisorEnv = ParsedEnv<typeof SUPERVISOR_ENV>;
