/**
 * Request counters per API key, readable at `GET /admin/stats[/:key]`.
 *
 * They count what the provider saw, so a test can assert how a client behaved:
 * how often it submitted, polled (and how many ids per poll), used multi-id gets,
 * was charged, reported, and which error codes it received (injected ones too).
 * Requests without a key are counted under `(none)`.
 */

export interface KeyCounters {
  /** `in.php` + `createTask` requests. */
  submits: number;
  /** Submits that created a task. */
  acceptedSubmits: number;
  /** Result requests: `res.php action=get|get2` (single or multi) + `getTaskResult`. */
  polls: number;
  /** Task ids asked for across those polls (a multi-get of 20 ids counts 20). */
  polledIds: number;
  /** `res.php action=get&ids=…` requests. */
  multiGets: number;
  /** `getbalance` / `getBalance` requests. */
  balanceChecks: number;
  /** Solves charged, and the total charged. */
  charges: number;
  chargedAmount: number;
  /** Reports recorded (`reportgood` / `reportbad` and the JSON-API report methods). */
  reportsGood: number;
  reportsBad: number;
  /** Every error code answered to this key, by code (`CAPCHA_NOT_READY` is not an error). */
  errors: Record<string, number>;
}

export const NO_KEY = '(none)';

const zero = (): KeyCounters => ({
  submits: 0,
  acceptedSubmits: 0,
  polls: 0,
  polledIds: 0,
  multiGets: 0,
  balanceChecks: 0,
  charges: 0,
  chargedAmount: 0,
  reportsGood: 0,
  reportsBad: 0,
  errors: {},
});

export class Stats {
  private readonly byKey = new Map<string, KeyCounters>();

  /** The counters of `key` (created at zero on first use). */
  key(key: string | undefined): KeyCounters {
    const k = key === undefined || key === '' ? NO_KEY : key;
    let c = this.byKey.get(k);
    if (!c) {
      c = zero();
      this.byKey.set(k, c);
    }
    return c;
  }

  peek(key: string): KeyCounters | undefined {
    return this.byKey.get(key);
  }

  error(key: string | undefined, code: string): void {
    const errors = this.key(key).errors;
    errors[code] = (errors[code] ?? 0) + 1;
  }

  /** Every key's counters. */
  all(): Record<string, KeyCounters> {
    return Object.fromEntries([...this.byKey].map(([k, v]) => [k, structuredClone(v)]));
  }

  /** The sum over all keys. */
  total(): KeyCounters {
    const sum = zero();
    for (const c of this.byKey.values()) {
      for (const field of Object.keys(sum) as (keyof KeyCounters)[]) {
        if (field === 'errors') {
          for (const [code, n] of Object.entries(c.errors)) sum.errors[code] = (sum.errors[code] ?? 0) + n;
        } else {
          sum[field] += c[field];
        }
      }
    }
    sum.chargedAmount = Math.round(sum.chargedAmount * 1e6) / 1e6;
    return sum;
  }

  reset(): void {
    this.byKey.clear();
  }
}
