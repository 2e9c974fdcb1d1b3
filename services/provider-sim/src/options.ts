/**
 * Everything `buildSimulator` can be told, with its default. `main.ts` fills these
 * from the environment (see config.ts); tests pass them directly.
 */
import type { AccountSeed } from './accounts';
import { emptyFaults, type FaultConfig } from './fault-config';
import { DEFAULT_LATENCY, DEFAULT_PRICES, type LatencyRange, type TaskKind } from './kinds';
import type { BusyCode } from './provider';

export interface SimulatorOptions {
  /** Seed of every random stream (latency, outcomes, tokens, faults). Default: random per start. */
  seed: string;
  /** Accounts that exist from the start (`SIM_ACCOUNTS`). Default none. */
  accounts: AccountSeed[];
  /** Any well-formed key creates an account on first use (`SIM_AUTO_ACCOUNTS`). Default true. */
  autoAccounts: boolean;
  /** Balance of auto-created accounts (`SIM_DEFAULT_BALANCE`). Default 1000. */
  defaultBalance: number;
  /** Threads of auto-created accounts (`SIM_DEFAULT_THREADS`). Default 100000. */
  defaultThreads: number;
  /** Unscaled solve-time range per kind (`SIM_LATENCY_<TYPE>_MS`). Defaults in kinds.ts. */
  latency: Record<TaskKind, LatencyRange>;
  /** Multiplier on every solve time (`SIM_LATENCY_SCALE`). Default 1. */
  latencyScale: number;
  /** Probability that a task ends `ERROR_CAPTCHA_UNSOLVABLE` (`SIM_UNSOLVABLE_RATE`). Default 0.02. */
  unsolvableRate: number;
  /** Price per solve, by kind (`SIM_PRICE_<TYPE>`). Defaults in kinds.ts. */
  prices: Record<TaskKind, number>;
  /** Answer to a submit when every thread is busy (`SIM_BUSY_CODE`). Default `ERROR_NO_SLOT_AVAILABLE`. */
  busyCode: BusyCode;
  /** Most ids in one `res.php?action=get&ids=` (`SIM_MAX_IDS`). Default 100. */
  maxIds: number;
  /** Images below this many bytes are `ERROR_ZERO_CAPTCHA_FILESIZE` (`SIM_MIN_IMAGE_BYTES`). Default 100. */
  minImageBytes: number;
  /** Images above this many bytes are `ERROR_TOO_BIG_CAPTCHA_FILESIZE` (`SIM_MAX_IMAGE_BYTES`). Default 600 KiB. */
  maxImageBytes: number;
  /** Reports are refused this long after submit (`SIM_REPORT_WINDOW_MS`). Default 15 min. */
  reportWindowMs: number;
  /** Task records kept (oldest finished dropped first) (`SIM_MAX_TASKS`). Default 200000. */
  maxTasks: number;
  /** Faults active from the start and after `POST /admin/reset` (`SIM_FAULTS`). Default none. */
  faults: FaultConfig;
  /** The clock (epoch ms). Tests may hand in a fake one. Default `Date.now`. */
  now: () => number;
  /** Fastify logger: false (default for tests) or pino options (main.ts). */
  logger: boolean | { level: string; base?: Record<string, unknown> };
}

export function defaultOptions(): SimulatorOptions {
  return {
    seed: String(Math.floor(Math.random() * 2 ** 32)),
    accounts: [],
    autoAccounts: true,
    defaultBalance: 1000,
    defaultThreads: 100_000,
    latency: structuredClone(DEFAULT_LATENCY),
    latencyScale: 1,
    unsolvableRate: 0.02,
    prices: { ...DEFAULT_PRICES },
    busyCode: 'ERROR_NO_SLOT_AVAILABLE',
    maxIds: 100,
    minImageBytes: 100,
    maxImageBytes: 600 * 1024,
    reportWindowMs: 15 * 60_000,
    maxTasks: 200_000,
    faults: emptyFaults(),
    now: Date.now,
    logger: false,
  };
}

/** Options given, deep-merged over the defaults for `latency` and `prices`. */
export type SimulatorOverrides = Partial<Omit<SimulatorOptions, 'latency' | 'prices'>> & {
  latency?: Partial<Record<TaskKind, LatencyRange>>;
  prices?: Partial<Record<TaskKind, number>>;
};

export function resolveOptions(overrides: SimulatorOverrides = {}): SimulatorOptions {
  const d = defaultOptions();
  const given = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return {
    ...d,
    ...given,
    latency: { ...d.latency, ...overrides.latency },
    prices: { ...d.prices, ...overrides.prices },
  };
}
