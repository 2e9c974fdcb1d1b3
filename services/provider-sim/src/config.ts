/**
 * The environment → listen address + {@link SimulatorOptions}. Parsed once by
 * main.ts; a bad value throws {@link ConfigError} naming the variable.
 *
 * | variable | default | meaning |
 * |---|---|---|
 * | `PORT` / `HOST` | 8090 / 127.0.0.1 | listen address (`PORT=0`: any free port) |
 * | `SIM_SEED` | random | seed of every random stream |
 * | `SIM_ACCOUNTS` | – | `key:balance:threads,…` accounts present from the start |
 * | `SIM_AUTO_ACCOUNTS` | true | any well-formed 32-char key creates an account |
 * | `SIM_DEFAULT_BALANCE` / `SIM_DEFAULT_THREADS` | 1000 / 100000 | of auto-created accounts |
 * | `SIM_LATENCY_SCALE` | 1 | multiplier on every solve time |
 * | `SIM_LATENCY_<TYPE>_MS` | see kinds.ts | `min-max` solve time, TYPE ∈ RECAPTCHA_V2, RECAPTCHA_V3, HCAPTCHA, TURNSTILE, IMAGE |
 * | `SIM_PRICE_<TYPE>` | see kinds.ts | price of one solve |
 * | `SIM_UNSOLVABLE_RATE` | 0.02 | probability of `ERROR_CAPTCHA_UNSOLVABLE` |
 * | `SIM_BUSY_CODE` | ERROR_NO_SLOT_AVAILABLE | answer when all threads are busy (or ERROR_ZERO_BALANCE) |
 * | `SIM_MAX_IDS` | 100 | most ids per multi-get |
 * | `SIM_MIN_IMAGE_BYTES` / `SIM_MAX_IMAGE_BYTES` | 100 / 614400 | image size limits |
 * | `SIM_REPORT_WINDOW_MS` | 900000 | reports accepted this long after submit |
 * | `SIM_MAX_TASKS` | 200000 | task records kept |
 * | `SIM_FAULTS` | – | fault config JSON, as `PUT /admin/faults` |
 * | `SIM_LOG_LEVEL` (or `LOG_LEVEL`) | info | pino level; the `listening` line is printed at any level |
 */
import { KEY_PATTERN, type AccountSeed } from './accounts';
import { FaultConfigError, parseFaults } from './fault-config';
import { KIND_ENV_NAME, TASK_KINDS, type LatencyRange, type TaskKind } from './kinds';
import type { SimulatorOverrides } from './options';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface Config {
  port: number;
  host: string;
  options: SimulatorOverrides;
}

type Env = Record<string, string | undefined>;

function number(env: Env, name: string, fallback: number, check: (n: number) => boolean, what: string): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || !check(n)) throw new ConfigError(`${name}=${JSON.stringify(raw)}: must be ${what}`);
  return n;
}

const nonNegInt = (n: number): boolean => Number.isInteger(n) && n >= 0;

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${name}=${JSON.stringify(raw)}: must be true or false`);
}

function accounts(env: Env): AccountSeed[] {
  const raw = env.SIM_ACCOUNTS?.trim();
  if (!raw) return [];
  return raw.split(',').map((item) => {
    const [key = '', balance = '', threads = ''] = item.trim().split(':');
    const b = Number(balance);
    const t = Number(threads);
    if (!KEY_PATTERN.test(key)) throw new ConfigError(`SIM_ACCOUNTS: key ${JSON.stringify(key)} must be 32 letters or digits`);
    if (balance === '' || !Number.isFinite(b) || b < 0) throw new ConfigError(`SIM_ACCOUNTS: balance of ${key} must be a non-negative number`);
    if (threads === '' || !nonNegInt(t)) throw new ConfigError(`SIM_ACCOUNTS: threads of ${key} must be a non-negative integer`);
    return { key, balance: b, threads: t };
  });
}

function latencyRange(env: Env, name: string): LatencyRange | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)$/.exec(raw);
  const minMs = Number(m?.[1]);
  const maxMs = Number(m?.[2]);
  if (!m || minMs > maxMs) throw new ConfigError(`${name}=${JSON.stringify(raw)}: must be min-max in ms with min <= max, e.g. 200-400`);
  return { minMs, maxMs };
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function logLevel(env: Env): string {
  const name = env.SIM_LOG_LEVEL?.trim() ? 'SIM_LOG_LEVEL' : 'LOG_LEVEL';
  const level = env[name]?.trim().toLowerCase() || 'info';
  if (!LEVELS.includes(level)) throw new ConfigError(`${name}=${JSON.stringify(level)}: must be one of ${LEVELS.join(', ')}`);
  return level;
}

export function parseEnv(env: Env, now: number = Date.now()): Config {
  const latency: Partial<Record<TaskKind, LatencyRange>> = {};
  const prices: Partial<Record<TaskKind, number>> = {};
  for (const kind of TASK_KINDS) {
    const range = latencyRange(env, `SIM_LATENCY_${KIND_ENV_NAME[kind]}_MS`);
    if (range) latency[kind] = range;
    const priceVar = `SIM_PRICE_${KIND_ENV_NAME[kind]}`;
    if (env[priceVar]?.trim()) prices[kind] = number(env, priceVar, 0, (n) => n >= 0, 'a non-negative number');
  }
  const busyCode = env.SIM_BUSY_CODE?.trim() || 'ERROR_NO_SLOT_AVAILABLE';
  if (busyCode !== 'ERROR_NO_SLOT_AVAILABLE' && busyCode !== 'ERROR_ZERO_BALANCE') {
    throw new ConfigError(`SIM_BUSY_CODE=${JSON.stringify(busyCode)}: must be ERROR_NO_SLOT_AVAILABLE or ERROR_ZERO_BALANCE`);
  }
  let faults;
  const faultsRaw = env.SIM_FAULTS?.trim();
  if (faultsRaw) {
    try {
      faults = parseFaults(JSON.parse(faultsRaw), now, 'SIM_FAULTS');
    } catch (err) {
      const why = err instanceof FaultConfigError ? err.message : `SIM_FAULTS is not valid JSON (${(err as Error).message})`;
      throw new ConfigError(why);
    }
  }
  const port = number(env, 'PORT', 8090, (n) => nonNegInt(n) && n <= 65535, 'a port number 0..65535');
  return {
    port,
    host: env.HOST?.trim() || '127.0.0.1',
    options: {
      seed: env.SIM_SEED?.trim() || undefined,
      accounts: accounts(env),
      autoAccounts: bool(env, 'SIM_AUTO_ACCOUNTS', true),
      defaultBalance: number(env, 'SIM_DEFAULT_BALANCE', 1000, (n) => n >= 0, 'a non-negative number'),
      defaultThreads: number(env, 'SIM_DEFAULT_THREADS', 100_000, nonNegInt, 'a non-negative integer'),
      latency,
      latencyScale: number(env, 'SIM_LATENCY_SCALE', 1, (n) => n >= 0, 'a non-negative number'),
      prices,
      unsolvableRate: number(env, 'SIM_UNSOLVABLE_RATE', 0.02, (n) => n >= 0 && n <= 1, 'a number in 0..1'),
      busyCode,
      maxIds: number(env, 'SIM_MAX_IDS', 100, (n) => Number.isInteger(n) && n >= 1, 'a positive integer'),
      minImageBytes: number(env, 'SIM_MIN_IMAGE_BYTES', 100, nonNegInt, 'a non-negative integer'),
      maxImageBytes: number(env, 'SIM_MAX_IMAGE_BYTES', 600 * 1024, nonNegInt, 'a non-negative integer'),
      reportWindowMs: number(env, 'SIM_REPORT_WINDOW_MS', 15 * 60_000, (n) => n >= 0, 'a non-negative number'),
      maxTasks: number(env, 'SIM_MAX_TASKS', 200_000, (n) => Number.isInteger(n) && n >= 1, 'a positive integer'),
      faults,
      logger: { level: logLevel(env), base: { service: 'provider-sim', pid: process.pid } },
    },
  };
}
