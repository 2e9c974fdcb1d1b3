/**
 * The producer's environment schema. `main.ts` parses it once at start-up with
 * `parseEnv` (a bad value stops the process with a message naming the variable);
 * everything else receives the parsed values as arguments.
 *
 * The README's env table is this schema; `describeEnv(PRODUCER_ENV)` prints it.
 */
import { env, type ParsedEnv } from '@solvestream/core';

/** 1 MiB. A 600 kB image (the providers' limit) is ~820 kB of base64, plus JSON framing. */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;

export const PRODUCER_ENV = {
  REDIS_URL: env.url({
    doc: 'Redis of this partition, e.g. redis://:password@redis:6379 (secret: may carry a password)',
    default: 'redis://127.0.0.1:6379',
    protocols: ['redis:', 'rediss:'],
    secret: true,
  }),
  PORT: env.int({ doc: 'HTTP port to listen on', default: 8080, min: 0, max: 65535 }),
  HOST: env.string({ doc: 'Interface to listen on; 0.0.0.0 in a container', default: '127.0.0.1' }),
  KEY_PREFIX: env.string({
    doc: 'Prefix of every Redis key (ss:{p0}:...)',
    default: 'ss',
    pattern: /^[A-Za-z0-9_.-]{1,32}$/,
    hint: '1-32 of [A-Za-z0-9_.-]',
  }),
  PARTITION: env.string({
    doc: 'Partition name inside the key hash tag',
    default: 'p0',
    pattern: /^[A-Za-z0-9_-]{1,32}$/,
    hint: '1-32 of [A-Za-z0-9_-]',
  }),
  LOG_LEVEL: env.oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, {
    doc: 'pino log level',
    default: 'info',
  }),
  MAX_WAIT_SECONDS: env.int({
    doc: 'Upper bound of GET /v1/tasks/:id?wait=SECONDS (long-poll), seconds',
    default: 60,
    min: 0,
    max: 600,
  }),
  BODY_LIMIT_BYTES: env.int({
    doc: 'Largest accepted request body, bytes; larger bodies get 413',
    default: DEFAULT_BODY_LIMIT_BYTES,
    min: 1024,
    max: 64 * 1024 * 1024,
  }),
  RESULT_TTL_SECONDS: env.int({
    doc: 'How long a finished task stays readable by GET, seconds; 0 = forever',
    default: 86_400,
    min: 0,
  }),
  EVENTS_MAXLEN: env.int({ doc: 'Approximate MAXLEN of the events stream; 0 = never trim', default: 1_000_000, min: 0 }),
  RESULTS_MAXLEN: env.int({ doc: 'Approximate MAXLEN of the results stream; 0 = never trim', default: 1_000_000, min: 0 }),
};

export type ProducerEnv = ParsedEnv<typeof PRODUCER_ENV>;
