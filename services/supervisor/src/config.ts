/** Supervisor configuration: every variable, its default and meaning. Parsed once in main.ts. */
import { env, type ParsedEnv } from '@solvestream/core';

export const SUPERVISOR_ENV = {
  REDIS_URL: env.url({ doc: 'Redis URL', default: 'redis://127.0.0.1:6379', protocols: ['redis:', 'rediss:'], secret: true }),
  KEY_PREFIX: env.string({ doc: 'Prefix of every Redis key', default: 'ss', pattern: /^[A-Za-z0-9_.-]{1,32}$/, hint: '1-32 of [A-Za-z0-9_.-]' }),
  PARTITION: env.string({ doc: 'Partition name (the Redis Cluster hash tag)', default: 'p0', pattern: /^[A-Za-z0-9_-]{1,32}$/, hint: '1-32 of [A-Za-z0-9_-]' }),
  PORT: env.int({ doc: 'Ops HTTP port (probes, dead-letter admin)', default: 8081, min: 0, max: 65535 }),
  HOST: env.string({ doc: 'Ops HTTP interface', default: '127.0.0.1' }),
  LEASE_MS: env.int({ doc: 'An entry idle this long belongs to a dead or frozen worker and is reclaimed, ms (must match the workers)', default: 30_000, min: 300, max: 3_600_000 }),
  SUPERVISOR_INTERVAL_MS: env.int({ doc: 'Period of the reclaim / promote loop, ms', default: 1000, min: 20, max: 60_000 }),
  MAX_FAILURES: env.int({ doc: 'Failed deliveries after which a task is dead-lettered (must match the workers)', default: 5, min: 1, max: 100 }),
  CONSUMER_SWEEP_MS: env.int({ doc: 'How often consumers of dead workers are removed, ms', default: 60_000, min: 1000 }),
  ADMIN_TOKEN: env.optional(env.string({ doc: 'Bearer token required by the dead-letter admin routes (unset: no auth; keep the port internal)', secret: true })),
  LOG_LEVEL: env.oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, { doc: 'pino log level', default: 'info' }),
};
export type SupervisorEnv = ParsedEnv<typeof SUPERVISOR_ENV>;
