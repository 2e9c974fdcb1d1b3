/** dr-recovery configuration: every variable, its default and meaning. Parsed once in main.ts. */
import { env, type ParsedEnv } from '@solvestream/core';
import { DEFAULT_RESTORE_HOLD_MS } from './restore';

export const DR_ENV = {
  REDIS_URL: env.url({ doc: 'Redis URL', default: 'redis://127.0.0.1:6379', protocols: ['redis:', 'rediss:'], secret: true }),
  KEY_PREFIX: env.string({ doc: 'Prefix of every Redis key', default: 'ss', pattern: /^[A-Za-z0-9_.-]{1,32}$/, hint: '1-32 of [A-Za-z0-9_.-]' }),
  PARTITION: env.string({ doc: 'Partition name (the Redis Cluster hash tag)', default: 'p0', pattern: /^[A-Za-z0-9_-]{1,32}$/, hint: '1-32 of [A-Za-z0-9_-]' }),
  ARCHIVE_DIR: env.string({ doc: 'Directory of the archive (segments + manifest); one writer per directory', default: './archive' }),
  DR_MODE: env.oneOf(['auto', 'manual'] as const, { doc: 'On a wiped Redis: auto = restore at once and alert; manual = stop archiving, alert, wait for `dr restore`', default: 'manual' }),
  ARCHIVE_BATCH: env.int({ doc: 'Max entries per stream per XREAD', default: 1000, min: 1, max: 100_000 }),
  ARCHIVE_BLOCK_MS: env.int({ doc: 'XREAD BLOCK, ms (bounds detection latency when idle)', default: 250, min: 10, max: 5000 }),
  SEGMENT_MAX_BYTES: env.int({ doc: 'A new segment starts past this size, bytes', default: 64 * 1024 * 1024, min: 4096 }),
  SEGMENT_MAX_AGE_MS: env.int({ doc: 'A new segment starts once the active one is this old, ms (so a quiet archive still seals segments for retention)', default: 3_600_000, min: 1000 }),
  ARCHIVE_RETENTION_HOURS: env.int({ doc: 'Finished tasks whose outcome is older than this leave the archive (compaction); unfinished tasks and the config history always stay; 0 = keep everything', default: 168, min: 0 }),
  COMPACT_EVERY_MS: env.int({ doc: 'How often compaction of segments past the retention runs, ms', default: 600_000, min: 1000 }),
  GROUPS_EVERY_MS: env.int({ doc: 'How often consumer-group positions are recorded in the manifest, ms', default: 5000, min: 100 }),
  RESTORE_HOLD_MS: env.int({ doc: 'After a restore, a requeued task without a checkpoint waits this long in the delayed set before it can be delivered, ms, so live workers can write back checkpoints the archive missed (no second payment); keep well above the workers\' CHECKPOINT_CHECK_MS; 0 = no hold', default: DEFAULT_RESTORE_HOLD_MS, min: 0, max: 600_000 }),
  RESULT_TTL_SECONDS: env.int({ doc: 'Projection TTL after an outcome, s (must match the workers); 0 = forever', default: 86_400, min: 0 }),
  PORT: env.int({ doc: 'Ops HTTP port (probes, metrics)', default: 8082, min: 0, max: 65535 }),
  HOST: env.string({ doc: 'Ops HTTP interface', default: '127.0.0.1' }),
  LOG_LEVEL: env.oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, { doc: 'pino log level', default: 'info' }),
};
export type DrEnv = ParsedEnv<typeof DR_ENV>;
