/**
 * What every operator CLI (`ss-tenants`, `ss-dlq`, `dr`) shares: the env fragment that
 * names one partition of Redis, and parsing it with the usual error output (the message
 * names the bad variable; the caller exits 2).
 */
import { ConfigError, env, parseEnv, type EnvSchema, type ParsedEnv } from './config';

/** REDIS_URL, KEY_PREFIX and PARTITION with the defaults every service uses. */
export const PARTITION_ENV = {
  REDIS_URL: env.url({ doc: 'Redis URL', default: 'redis://127.0.0.1:6379', protocols: ['redis:', 'rediss:'], secret: true }),
  KEY_PREFIX: env.string({ doc: 'Key prefix', default: 'ss' }),
  PARTITION: env.string({ doc: 'Partition', default: 'p0' }),
};

/** Parses a CLI's env; on a bad value writes the message to `out` and returns undefined. */
export function parseCliEnv<S extends EnvSchema>(schema: S, source: Record<string, string | undefined>, out: (s: string) => void): ParsedEnv<S> | undefined {
  try {
    return parseEnv(schema, source);
  } catch (err) {
    out(err instanceof ConfigError ? err.message : String(err));
    return undefined;
  }
}
