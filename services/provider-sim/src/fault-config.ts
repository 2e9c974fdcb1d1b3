/**
 * The fault-injection configuration: its JSON shape (the same for `SIM_FAULTS`,
 * `PUT /admin/faults` and `GET /admin/faults`) and its validation.
 *
 * ```jsonc
 * {
 *   // each section takes one rule or an array of rules; every rule accepts
 *   //   on: ["submit","poll"] (default both)  rate: 0..1 (default 1)
 *   //   times: N (only the next N matching requests)  durationMs / expiresAt (epoch ms)
 *   "errors":    { "rate": 0.1, "codes": ["ERROR_NO_SLOT_AVAILABLE", "ERROR_SERVER_ERROR"] },
 *   "outage":    { "mode": "refuse" | "http500", "status": 500 | 502 | 503 },
 *   "slow":      { "delayMs": 2000, "jitterMs": 500 },
 *   "nonsense":  { "kind": "garbage" | "truncated-json" | "empty", "afterProcessing": false },
 *   "rateLimit": { "code": "MAX_USER_TURN" | "ERROR: 1001" | "ERROR: 1005" | …, "on": ["submit"] },
 *   "unsolvableRate": 0.5,   // overrides SIM_UNSOLVABLE_RATE for tasks submitted now
 *   "numericIds": true       // v1 JSON answers carry the task id as a number (CaptchaAI quirk)
 * }
 * ```
 * `submit` = `/in.php` and `/createTask`; `poll` = every other protocol request
 * (`/res.php` with any action, `/getTaskResult`, `/getBalance`, reports).
 */
import { RATE_LIMIT_CODES } from './errors';

export const PHASES = ['submit', 'poll'] as const;
export type Phase = (typeof PHASES)[number];

export interface RuleBase {
  on: Phase[];
  rate: number;
  /** Remaining number of injections; undefined = unlimited. */
  times?: number;
  /** Epoch ms after which the rule no longer applies; undefined = until changed. */
  expiresAt?: number;
}
export interface ErrorRule extends RuleBase { codes?: string[] }
export interface OutageRule extends RuleBase { mode: 'refuse' | 'http500'; status: number }
export interface SlowRule extends RuleBase { delayMs: number; jitterMs: number }
export interface NonsenseRule extends RuleBase { kind: 'garbage' | 'truncated-json' | 'empty'; afterProcessing: boolean }
export interface RateLimitRule extends RuleBase { code: string }

export interface FaultConfig {
  errors: ErrorRule[];
  outage: OutageRule[];
  slow: SlowRule[];
  nonsense: NonsenseRule[];
  rateLimit: RateLimitRule[];
  unsolvableRate?: number;
  numericIds?: boolean;
}

export const RULE_SECTIONS = ['errors', 'outage', 'slow', 'nonsense', 'rateLimit'] as const;
export type RuleSection = (typeof RULE_SECTIONS)[number];

/** Thrown for an invalid fault configuration; the message names the offending field. */
export class FaultConfigError extends Error {
  override name = 'FaultConfigError';
}

export const emptyFaults = (): FaultConfig => ({ errors: [], outage: [], slow: [], nonsense: [], rateLimit: [] });

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function fail(path: string, what: string): never {
  throw new FaultConfigError(`${path} ${what}`);
}

function num(o: Obj, k: string, path: string, min: number, max: number): number | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) fail(`${path}.${k}`, `must be a number in ${min}..${max}`);
  return v;
}

function oneOf<T extends string>(o: Obj, k: string, path: string, allowed: readonly T[]): T | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !allowed.includes(v as T)) fail(`${path}.${k}`, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
  return v as T;
}

const BASE_FIELDS = ['on', 'rate', 'times', 'durationMs', 'expiresAt'];
const SECTION_FIELDS: Record<RuleSection, string[]> = {
  errors: ['codes'],
  outage: ['mode', 'status'],
  slow: ['delayMs', 'jitterMs'],
  nonsense: ['kind', 'afterProcessing'],
  rateLimit: ['code'],
};

function parseBase(o: Obj, path: string, now: number): RuleBase {
  let on: Phase[] = [...PHASES];
  if (o.on !== undefined) {
    const list = typeof o.on === 'string' ? [o.on] : o.on;
    if (!Array.isArray(list) || list.length === 0 || !list.every((p) => PHASES.includes(p as Phase))) {
      fail(`${path}.on`, 'must be "submit", "poll" or an array of them');
    }
    on = [...new Set(list as Phase[])];
  }
  const duration = num(o, 'durationMs', path, 0, Number.MAX_SAFE_INTEGER);
  const expiresAt = num(o, 'expiresAt', path, 0, Number.MAX_SAFE_INTEGER) ?? (duration === undefined ? undefined : now + duration);
  const times = num(o, 'times', path, 0, Number.MAX_SAFE_INTEGER);
  if (times !== undefined && !Number.isInteger(times)) fail(`${path}.times`, 'must be an integer');
  return { on, rate: num(o, 'rate', path, 0, 1) ?? 1, times, expiresAt };
}

type AnyRule = ErrorRule | OutageRule | SlowRule | NonsenseRule | RateLimitRule;

function parseRule(section: RuleSection, raw: unknown, path: string, now: number): AnyRule {
  if (!isObj(raw)) fail(path, 'must be an object');
  const known = [...BASE_FIELDS, ...SECTION_FIELDS[section]];
  for (const k of Object.keys(raw)) if (!known.includes(k)) fail(`${path}.${k}`, `is not a known field (known: ${known.join(', ')})`);
  const base = parseBase(raw, path, now);
  switch (section) {
    case 'errors': {
      const codes = raw.codes;
      if (codes !== undefined && (!Array.isArray(codes) || codes.length === 0 || !codes.every((c) => typeof c === 'string' && c !== ''))) {
        fail(`${path}.codes`, 'must be a non-empty array of error codes');
      }
      return { ...base, codes: codes as string[] | undefined } satisfies ErrorRule;
    }
    case 'outage': {
      const mode = oneOf(raw, 'mode', path, ['refuse', 'http500'] as const) ?? fail(`${path}.mode`, 'is required ("refuse" or "http500")');
      const status = num(raw, 'status', path, 500, 599) ?? 500;
      return { ...base, mode, status } satisfies OutageRule;
    }
    case 'slow': {
      const delayMs = num(raw, 'delayMs', path, 0, 3_600_000) ?? fail(`${path}.delayMs`, 'is required');
      return { ...base, delayMs, jitterMs: num(raw, 'jitterMs', path, 0, 3_600_000) ?? 0 } satisfies SlowRule;
    }
    case 'nonsense': {
      const kind = oneOf(raw, 'kind', path, ['garbage', 'truncated-json', 'empty'] as const) ?? 'garbage';
      if (raw.afterProcessing !== undefined && typeof raw.afterProcessing !== 'boolean') fail(`${path}.afterProcessing`, 'must be a boolean');
      return { ...base, kind, afterProcessing: raw.afterProcessing === true } satisfies NonsenseRule;
    }
    case 'rateLimit': {
      const code = oneOf(raw, 'code', path, RATE_LIMIT_CODES) ?? fail(`${path}.code`, `is required (one of ${RATE_LIMIT_CODES.join(', ')})`);
      return { ...base, code } satisfies RateLimitRule;
    }
  }
}

/**
 * Validates `input` (parsed JSON) into a {@link FaultConfig}; `durationMs` becomes an
 * absolute `expiresAt` counted from `now`. Throws {@link FaultConfigError} naming the field.
 */
export function parseFaults(input: unknown, now: number, path = 'faults'): FaultConfig {
  if (!isObj(input)) fail(path, 'must be a JSON object');
  const out = emptyFaults();
  for (const [k, v] of Object.entries(input)) {
    if (v === null) continue;
    if ((RULE_SECTIONS as readonly string[]).includes(k)) {
      const section = k as RuleSection;
      const rules = Array.isArray(v) ? v : [v];
      // Each section's array holds its own rule type; the cast keeps one generic loop.
      (out[section] as RuleBase[]) = rules.map((r, i) => parseRule(section, r, Array.isArray(v) ? `${path}.${k}[${i}]` : `${path}.${k}`, now));
    } else if (k === 'unsolvableRate') {
      out.unsolvableRate = num(input, k, path, 0, 1);
    } else if (k === 'numericIds') {
      if (typeof v !== 'boolean') fail(`${path}.numericIds`, 'must be a boolean');
      out.numericIds = v;
    } else {
      fail(`${path}.${k}`, `is not a known fault (known: ${[...RULE_SECTIONS, 'unsolvableRate', 'numericIds'].join(', ')})`);
    }
  }
  return out;
}
