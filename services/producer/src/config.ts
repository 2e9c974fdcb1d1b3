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

  // ── tenants and auth (src/tenants.ts) ─────────────────────────────────────────
  TENANTS_FILE: env.optional(env.string({ doc: 'JSON file of tenants and their hashed API keys (see README, "Tenants"); read once at start-up' })),
  TENANTS_JSON: env.optional(env.string({ doc: 'Same as TENANTS_FILE, inline (e.g. from a secret); both may be set', secret: true })),
  AUTH_REQUIRED: env.bool({
    doc: 'Refuse every request while no tenant is configured (otherwise the API is open as tenant `default`)',
    default: false,
  }),
  TENANT_CACHE_MS: env.int({ doc: 'How long a key lookup from Redis is cached, ms: a CLI revoke takes effect within this', default: 5_000, min: 0, max: 600_000 }),
  DEFAULT_RATE_PER_SECOND: env.number({ doc: 'Submit rate of a tenant without its own setting (and of tenant `default`), tasks/s; 0 = unlimited', default: 0, min: 0 }),
  DEFAULT_BURST: env.int({ doc: 'Token-bucket size for DEFAULT_RATE_PER_SECOND; 0 = 2 s worth of the rate', default: 0, min: 0 }),
  DEFAULT_MAX_OPEN: env.int({ doc: 'Unfinished tasks a tenant may have without its own setting; 0 = unlimited', default: 0, min: 0 }),
  WEBHOOK_SECRET: env.optional(env.string({ doc: 'HMAC key of webhooks for tenant `default` (open mode) and tenants without their own secret', secret: true })),

  // ── admission control (src/admission.ts) ──────────────────────────────────────
  MAX_QUEUE_DEPTH: env.int({ doc: 'Back-pressure: refuse submits (429 / ERROR_NO_SLOT_AVAILABLE) while lanes + delayed hold this many entries; 0 = never', default: 100_000, min: 0 }),
  EXPIRE_GRACE_MS: env.int({
    doc: 'A task still open this long after its deadline is failed as ERROR_CAPTCHA_UNSOLVABLE when read (workers normally fail it at the deadline), ms',
    default: 30_000,
    min: 0,
  }),

  // ── gateway (src/gateway) ──────────────────────────────────────────────────────
  GATEWAY_MAX_IDS: env.int({ doc: 'Most ids in one res.php?action=get&ids= (more: ERROR_BAD_PARAMETERS)', default: 100, min: 1, max: 1000 }),
  REPORT_WINDOW_MS: env.int({ doc: 'reportgood/reportbad are accepted this long after a task was solved, ms; 0 = always', default: 900_000, min: 0 }),

  // ── results delivery (src/delivery) ────────────────────────────────────────────
  WEBHOOK_MAX_ATTEMPTS: env.int({ doc: 'Webhook deliveries tried per task before giving up', default: 8, min: 1, max: 50 }),
  WEBHOOK_TIMEOUT_MS: env.int({ doc: 'Timeout of one webhook POST, ms', default: 5_000, min: 100, max: 60_000 }),
  WEBHOOK_ALLOW_PRIVATE: env.bool({ doc: 'Allow callbackUrl hosts that are loopback/private IP literals or localhost (tests, local runs)', default: false }),
};

export type ProducerEnv = ParsedEnv<typeof PRODUCER_ENV>;
