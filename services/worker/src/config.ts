/**
 * Worker configuration: every variable, its default and meaning. Parsed once in main.ts.
 */
import { ConfigError, env, parseEnv, type EnvVar, type ParsedEnv } from '@solvestream/core';
import type { TaskType } from '@solvestream/contracts';
import type { ProviderConfig } from './provider/client';
import type { RoutingOptions } from './provider/setup';

/** One entry of FALLBACK_PROVIDERS (the key may come from another variable, `keyEnv`). */
export interface FallbackProvider {
  name: string;
  protocol: 'v1' | 'json';
  url: string;
  /** Empty until `keyEnv` is resolved in parseWorkerEnv. Secret. */
  key: string;
  keyEnv?: string;
  minBalance?: number;
  multiGet?: boolean;
  maxIdsPerGet?: number;
  zeroBalanceIsCapacity?: boolean;
  timeoutMs?: number;
}

const NAME_RE = /^[a-z0-9_-]{1,32}$/;
const FALLBACK_FIELDS = new Set(['name', 'protocol', 'url', 'key', 'keyEnv', 'minBalance', 'multiGet', 'maxIdsPerGet', 'zeroBalanceIsCapacity', 'timeoutMs']);

/** Parses FALLBACK_PROVIDERS; errors name the entry and field (`[1].url: …`) and never echo a key. */
function parseFallbacks(raw: string): FallbackProvider[] {
  let list: unknown;
  try {
    list = JSON.parse(raw);
  } catch {
    throw new Error('must be a JSON array of provider objects');
  }
  if (!Array.isArray(list)) throw new Error('must be a JSON array of provider objects');
  return list.map((item: unknown, i): FallbackProvider => {
    const at = (field: string, problem: string): Error => new Error(`[${i}].${field}: ${problem}`);
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new Error(`[${i}]: must be an object`);
    const o = item as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!FALLBACK_FIELDS.has(k)) throw at(k, `unknown field (known: ${[...FALLBACK_FIELDS].join(', ')})`);
    if (typeof o.name !== 'string' || !NAME_RE.test(o.name)) throw at('name', 'must be 1-32 of [a-z0-9_-]');
    const protocol = o.protocol ?? 'v1';
    if (protocol !== 'v1' && protocol !== 'json') throw at('protocol', 'must be "v1" or "json"');
    if (typeof o.url !== 'string' || !/^https?:\/\/[^/]/.test(o.url) || !URL.canParse(o.url)) throw at('url', 'must be an http(s) URL');
    const hasKey = typeof o.key === 'string' && o.key !== '';
    const hasKeyEnv = typeof o.keyEnv === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(o.keyEnv);
    if (hasKey === hasKeyEnv) throw at('key', 'give exactly one of "key" (the API key) or "keyEnv" (the variable that holds it)');
    const num = (field: string, min: number, max: number, integer: boolean): number | undefined => {
      const v = o[field];
      if (v === undefined) return undefined;
      if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
        throw at(field, `must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
      }
      return v;
    };
    const bool = (field: string): boolean | undefined => {
      const v = o[field];
      if (v !== undefined && typeof v !== 'boolean') throw at(field, 'must be true or false');
      return v as boolean | undefined;
    };
    const multiGet = bool('multiGet');
    if (protocol === 'json' && multiGet) throw at('multiGet', 'the JSON task API has no multi-id poll');
    return {
      name: o.name, protocol, url: o.url, key: hasKey ? (o.key as string) : '', keyEnv: hasKeyEnv ? (o.keyEnv as string) : undefined,
      minBalance: num('minBalance', 0, Number.MAX_SAFE_INTEGER, false), multiGet, maxIdsPerGet: num('maxIdsPerGet', 1, 1000, true),
      zeroBalanceIsCapacity: bool('zeroBalanceIsCapacity'), timeoutMs: num('timeoutMs', 100, 120_000, true),
    };
  });
}

export const WORKER_ENV = {
  REDIS_URL: env.url({ doc: 'Redis URL', default: 'redis://127.0.0.1:6379', protocols: ['redis:', 'rediss:'] }),
  KEY_PREFIX: env.string({ doc: 'Prefix of every Redis key', default: 'ss' }),
  PARTITION: env.string({ doc: 'Partition name (the Redis Cluster hash tag)', default: 'p0' }),
  WORKER_ID: env.optional(env.string({ doc: 'Consumer name in the group; default: worker-<host>-<pid>-<random>' })),
  WORKER_CONCURRENCY: env.int({ doc: 'Most tasks solving at once in one process', default: 1000, min: 1, max: 100_000 }),
  BLOCK_MS: env.int({ doc: 'How long one blocking read waits for new tasks, ms', default: 2000, min: 10, max: 60_000 }),
  LEASE_MS: env.int({ doc: 'Lease of a task held by a worker, ms; renewed every third of it. An entry idle longer is reclaimed by the supervisor (must match the supervisor)', default: 30_000, min: 300, max: 3_600_000 }),
  MAX_FAILURES: env.int({ doc: 'Failed deliveries (reclaims + transient-error retries) after which a task is dead-lettered', default: 5, min: 1, max: 100 }),
  TRACE_PARENT_MODE: env.oneOf(['link', 'parent'] as const, { doc: "Worker 'process' spans link to the submit's trace (link, the messaging-conventions default) or continue it as its child (parent: one timeline per task in Jaeger)", default: 'link' }),
  OPS_PORT: env.int({ doc: 'Port of the ops HTTP server (/health, /health/ready, /metrics); 0 = any free port (logged)', default: 0, min: 0, max: 65535 }),
  OPS_HOST: env.string({ doc: 'Interface of the ops HTTP server; 0.0.0.0 in a container', default: '127.0.0.1' }),
  CONFIG_POLL_MS: env.int({ doc: 'How often the versioned runtime config (provider keys, order, enabled, concurrency) is checked, ms: a rotation reaches this worker within it', default: 1000, min: 50, max: 600_000 }),
  CHECKPOINT_CHECK_MS: env.int({ doc: 'How often the checkpoints of tasks in flight here are checked against the dr-recovery epoch marker and written again after a wipe, ms; keep well under dr-recovery RESTORE_HOLD_MS', default: 1000, min: 50, max: 60_000 }),
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
  PROVIDER_PROTOCOL: env.oneOf(['v1', 'json'] as const, { doc: 'Protocol of the provider at PROVIDER_URL: `v1` (in.php/res.php) or `json` (createTask/getTaskResult)', default: 'v1' }),
  PROVIDER_MIN_BALANCE: env.optional(env.number({ doc: 'Below this balance the primary provider (and every fallback without its own `minBalance`) gets no new tasks and an alert is raised; unset = balance never checked', min: 0 })),
  PROVIDER_BALANCE_INTERVAL_MS: env.int({ doc: 'Interval of the balance checks, ms', default: 60_000, min: 100, max: 3_600_000 }),
  PROVIDER_CONCURRENCY: env.int({ doc: 'Most HTTP requests in flight at once to one provider', default: 64, min: 1, max: 10_000 }),
  FALLBACK_PROVIDERS: {
    doc: 'Providers tried after the primary, in order: a JSON array of {"name","protocol":"v1"|"json","url","key" or "keyEnv","minBalance"?,"multiGet"?,"maxIdsPerGet"?,"zeroBalanceIsCapacity"?,"timeoutMs"?} (see README)',
    default: [],
    secret: true,
    parse: parseFallbacks,
  } satisfies EnvVar<FallbackProvider[]>,
  BREAKER_FAILURES: env.int({ doc: 'Consecutive failed submits that open a provider\'s circuit breaker', default: 5, min: 1, max: 10_000 }),
  BREAKER_RESET_MS: env.int({ doc: 'How long an open breaker keeps new tasks away before letting trial submits through, ms', default: 30_000, min: 10, max: 3_600_000 }),
  BREAKER_HALF_OPEN_TRIALS: env.int({ doc: 'Trial submits at once while a breaker is half-open', default: 1, min: 1, max: 1000 }),
  BREAKER_SUCCESSES: env.int({ doc: 'Successful trial submits that close a half-open breaker', default: 2, min: 1, max: 1000 }),
  POLL_CONCURRENCY: env.int({ doc: 'Most poll requests in flight at once per provider', default: 8, min: 1, max: 1000 }),
  ALERTS_MAXLEN: env.int({ doc: 'Approximate cap on the alerts stream (0 = no cap)', default: 10_000, min: 0 }),
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
  const problems: string[] = [];
  const names = new Set([primaryProvider(e).name]);
  e.FALLBACK_PROVIDERS.forEach((f, i) => {
    if (names.has(f.name)) problems.push(`FALLBACK_PROVIDERS: [${i}].name: ${JSON.stringify(f.name)} is already used by another provider (names must be unique: checkpoints name the provider)`);
    names.add(f.name);
    if (f.keyEnv) {
      const key = source[f.keyEnv];
      if (key) f.key = key;
      else problems.push(`FALLBACK_PROVIDERS: [${i}].keyEnv: ${f.keyEnv} is not set`);
    }
  });
  if (problems.length) throw new ConfigError(problems);
  return e;
}

/** The provider this worker submits to first. CaptchaAI when its key is set. */
export function primaryProvider(e: WorkerEnv): ProviderConfig {
  const common = {
    multiGet: e.PROVIDER_MULTI_GET, maxIdsPerGet: e.PROVIDER_MAX_IDS, timeoutMs: e.PROVIDER_TIMEOUT_MS,
    maxConcurrentRequests: e.PROVIDER_CONCURRENCY, minBalance: e.PROVIDER_MIN_BALANCE,
  };
  if (e.CAPTCHAAI_API_KEY) {
    return { name: 'captchaai', baseUrl: e.CAPTCHAAI_URL, key: e.CAPTCHAAI_API_KEY, zeroBalanceIsCapacity: true, ...common };
  }
  return {
    name: e.PROVIDER_NAME, protocol: e.PROVIDER_PROTOCOL, baseUrl: e.PROVIDER_URL as string, key: e.PROVIDER_KEY as string,
    zeroBalanceIsCapacity: false, ...common,
  };
}

/** The providers tried after the primary, in order. Balance-based unless they say otherwise. */
export function fallbackProviders(e: WorkerEnv): ProviderConfig[] {
  return e.FALLBACK_PROVIDERS.map((f) => ({
    name: f.name, protocol: f.protocol, baseUrl: f.url, key: f.key,
    multiGet: f.multiGet, maxIdsPerGet: f.maxIdsPerGet ?? e.PROVIDER_MAX_IDS, timeoutMs: f.timeoutMs ?? e.PROVIDER_TIMEOUT_MS,
    zeroBalanceIsCapacity: f.zeroBalanceIsCapacity ?? false, maxConcurrentRequests: e.PROVIDER_CONCURRENCY,
    minBalance: f.minBalance ?? e.PROVIDER_MIN_BALANCE,
  }));
}

/** Breaker, balance-check, poll and alert settings shared by every provider. */
export function routingOptions(e: WorkerEnv): RoutingOptions {
  return {
    breaker: {
      failureThreshold: e.BREAKER_FAILURES, resetTimeoutMs: e.BREAKER_RESET_MS,
      halfOpenMaxTrials: e.BREAKER_HALF_OPEN_TRIALS, successThreshold: e.BREAKER_SUCCESSES,
    },
    balanceIntervalMs: e.PROVIDER_BALANCE_INTERVAL_MS,
    pollConcurrency: e.POLL_CONCURRENCY,
    alertsMaxLen: e.ALERTS_MAXLEN,
  };
}
