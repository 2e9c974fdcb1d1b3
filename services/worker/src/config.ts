/**
 * Worker configuration: every variable, its default and meaning. Parsed once in main.ts.
 */
import { ConfigError, env, parseEnv, type ParsedEnv } from '@solvestream/core';
import type { TaskType } from '@solvestream/contracts';
import type { ProviderConfig } from './provider/client';

export const WORKER_ENV = {
  REDIS_URL: env.url({ doc: 'Redis URL', default: 'redis://127.0.0.1:6379', protocols: ['redis:', 'rediss:'] }),
  KEY_PREFIX: env.string({ doc: 'Prefix of every Redis key', default: 'ss' }),
  PARTITION: env.string({ doc: 'Partition name (the Redis Cluster hash tag)', default: 'p0' }),
  WORKER_ID: env.optional(env.string({ doc: 'Consumer name in the group; default: worker-<host>-<pid>-<random>' })),
  WORKER_CONCURRENCY: env.int({ doc: 'Most tasks solving at once in one process', default: 1000, min: 1, max: 100_000 }),
  BLOCK_MS: env.int({ doc: 'How long one blocking read waits for new tasks, ms', default: 2000, min: 10, max: 60_000 }),
  LEASE_MS: env.int({ doc: 'Lease of a task held by a worker, ms; renewed every third of it. An entry idle longer is reclaimed by the supervisor (must match the supervisor)', default: 30_000, min: 300, max: 3_600_000 }),
  MAX_FAILURES: env.int({ doc: 'Failed deliveries (reclaims + transient-error retries) after which a task is dead-lettered', default: 5, min: 1, max: 100 }),
  HEARTBEAT_MS: env.int({ doc: 'Heartbeat period, ms (0 = off)', default: 5000, min: 0, max: 600_000 }),
  DRAIN_GRACE_MS: env.int({ doc: 'On SIGTERM, how long in-flight tasks may finish before they are handed back, ms', default: 10_000, min: 0, max: 600_000 }),
  LOG_LEVEL: env.oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, { doc: 'pino log level', default: 'info' }),
  CAPTCHAAI_API_KEY: env.optional(env.string({ doc: 'CaptchaAI API key; when set, workers solve on CaptchaAI', secret: true })),
  CAPTCHAAI_URL: env.url({ doc: 'CaptchaAI base URL', default: 'https://ocr.captchaai.com' }),
  PROVIDER_NAME: env.string({ doc: 'Name of the 2captcha-compatible provider at PROVIDER_URL', default: 'provider', pattern: /^[a-z0-9_-]{1,32}$/, hint: '1-32 of [a-z0-9_-]' }),
  PROVIDER_URL: env.optional(env.url({ doc: 'Base URL of a 2captcha-compatible provider (used when CAPTCHAAI_API_KEY is unset)' })),
  PROVIDER_KEY: env.optional(env.string({ doc: 'API key for PROVIDER_URL', secret: true })),
  PROVIDER_MULTI_GET: env.bool({ doc: 'Provider supports res.php?action=get&ids=', default: true }),
  PROVIDER_MAX_IDS: env.int({ doc: 'Most ids in one multi-get', default: 100, min: 1, max: 1000 }),
  PROVIDER_TIMEOUT_MS: env.int({ doc: 'Timeout of one provider HTTP request, ms', default: 15_000, min: 100, max: 120_000 }),
  POLL_INTERVAL_MS: env.int({ doc: 'Interval between polls of one task, ms (providers ask for 5 s)', default: 5000, min: 10, max: 60_000 }),
  POLL_FIRST_DELAY_SCALE: env.number({ doc: 'Multiplier on the typical solve time before the first poll (image 5 s, reCAPTCHA v2 15 s, v3 10 s, hCaptcha 15 s, Turnstile 10 s)', default: 1, min: 0, max: 100 }),
  RESULT_TTL_SECONDS: env.int({ doc: 'How long a finished task stays readable', default: 86_400, min: 0 }),
  EVENTS_MAXLEN: env.int({ doc: 'Approximate cap on the events stream (0 = no cap)', default: 1_000_000, min: 0 }),
  RESULTS_MAXLEN: env.int({ doc: 'Approximate cap on the results stream (0 = no cap)', default: 1_000_000, min: 0 }),
};
export type WorkerEnv = ParsedEnv<typeof WORKER_ENV>;

/** Typical solve times from the providers' docs (captcha-protocols.md §1.7), ms. */
export const TYPICAL_SOLVE_MS: Record<TaskType, number> = {
  image: 5_000,
  recaptcha_v2: 15_000,
  recaptcha_v3: 10_000,
  hcaptcha: 15_000,
  turnstile: 10_000,
};

export function parseWorkerEnv(source: Record<string, string | undefined> = process.env): WorkerEnv {
  const e = parseEnv(WORKER_ENV, source);
  if (!e.CAPTCHAAI_API_KEY && !(e.PROVIDER_URL && e.PROVIDER_KEY)) {
    throw new ConfigError(['CAPTCHAAI_API_KEY: is required unless PROVIDER_URL and PROVIDER_KEY name another 2captcha-compatible provider']);
  }
  return e;
}

/** The provider this worker submits to. CaptchaAI when its key is set. */
export function primaryProvider(e: WorkerEnv): ProviderConfig {
  const common = { multiGet: e.PROVIDER_MULTI_GET, maxIdsPerGet: e.PROVIDER_MAX_IDS, timeoutMs: e.PROVIDER_TIMEOUT_MS };
  if (e.CAPTCHAAI_API_KEY) {
    return { name: 'captchaai', baseUrl: e.CAPTCHAAI_URL, key: e.CAPTCHAAI_API_KEY, zeroBalanceIsCapacity: true, ...common };
  }
  return { name: e.PROVIDER_NAME, baseUrl: e.PROVIDER_URL as string, key: e.PROVIDER_KEY as string, zeroBalanceIsCapacity: false, ...common };
}
