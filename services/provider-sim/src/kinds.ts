/**
 * The CAPTCHA kinds the simulator solves, with their default solve times and prices.
 *
 * Every protocol surface (v1 `method=…`, JSON `task.type`) maps onto one of these
 * kinds; latency, price and token shape are properties of the kind.
 */

export const TASK_KINDS = ['recaptcha_v2', 'recaptcha_v3', 'hcaptcha', 'turnstile', 'image'] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

/** Name of each kind inside env variables: `SIM_LATENCY_<NAME>_MS`, `SIM_PRICE_<NAME>`. */
export const KIND_ENV_NAME: Record<TaskKind, string> = {
  recaptcha_v2: 'RECAPTCHA_V2',
  recaptcha_v3: 'RECAPTCHA_V3',
  hcaptcha: 'HCAPTCHA',
  turnstile: 'TURNSTILE',
  image: 'IMAGE',
};

/** A solve-time range in milliseconds, before `latencyScale` is applied. */
export interface LatencyRange {
  minMs: number;
  maxMs: number;
}

/**
 * Default solve times, from the estimates in captcha-protocols.md §3:
 * image 0.5–5 s; reCAPTCHA v2 15–60 s; v3 3–15 s; Turnstile 5–20 s; hCaptcha 15–60 s.
 */
export const DEFAULT_LATENCY: Record<TaskKind, LatencyRange> = {
  recaptcha_v2: { minMs: 15_000, maxMs: 60_000 },
  recaptcha_v3: { minMs: 3_000, maxMs: 15_000 },
  hcaptcha: { minMs: 15_000, maxMs: 60_000 },
  turnstile: { minMs: 5_000, maxMs: 20_000 },
  image: { minMs: 500, maxMs: 5_000 },
};

/** Default price of one solve, in account currency (2captcha's public per-1000 rates / 1000). */
export const DEFAULT_PRICES: Record<TaskKind, number> = {
  recaptcha_v2: 0.00299,
  recaptcha_v3: 0.00299,
  hcaptcha: 0.00299,
  turnstile: 0.00145,
  image: 0.0007,
};
