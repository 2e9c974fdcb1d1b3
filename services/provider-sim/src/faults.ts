/**
 * The fault engine: holds the active {@link FaultConfig} and decides, per protocol
 * request, which faults fire.
 *
 * A request meets the faults in this order:
 *   1. `slow`      — extra delay before anything else happens (rules add up);
 *   2. `outage`    — `refuse`: the connection is destroyed without an answer;
 *                    `http500`: an HTML error page with status 500/502/503;
 *   3. `rateLimit` — the rate-limit code instead of the real answer;
 *   4. `errors`    — a random transient error code instead of the real answer;
 *   5. `nonsense`  — a garbage body instead of (or, with `afterProcessing`, after
 *                    doing the work behind) the real answer.
 * 1–2 run before the body is read (`delayFor`, `outageFor`), 3–5 once it is (`afterBody`).
 * A rule fires with probability `rate`; `times` counts down per firing and a rule
 * with `times: 0` or past `expiresAt` is dropped.
 */
import { emptyFaults, parseFaults, RULE_SECTIONS, type FaultConfig, type NonsenseRule, type OutageRule, type Phase, type RuleBase } from './fault-config';
import type { Random } from './rng';

const DEFAULT_ERROR_CODES: Record<Phase, string[]> = {
  submit: ['ERROR_NO_SLOT_AVAILABLE', 'ERROR_SERVER_ERROR'],
  poll: ['ERROR_SERVER_ERROR'],
};

export interface InjectedCounts {
  slowed: number;
  refused: number;
  http500: number;
  rateLimited: number;
  errors: number;
  nonsense: number;
}

const zeroCounts = (): InjectedCounts => ({ slowed: 0, refused: 0, http500: 0, rateLimited: 0, errors: 0, nonsense: 0 });

export class FaultEngine {
  private current: FaultConfig = emptyFaults();
  private counts = zeroCounts();

  constructor(
    private readonly random: Random,
    private readonly now: () => number,
  ) {}

  /** The active configuration, without spent or expired rules. */
  get config(): FaultConfig {
    this.prune();
    return structuredClone(this.current);
  }

  get injected(): InjectedCounts {
    return { ...this.counts };
  }

  /** Replaces the whole configuration (already validated). */
  set(config: FaultConfig): void {
    this.current = structuredClone(config);
  }

  /** Validates `input` and replaces only the sections it names (`null` removes one). */
  patch(input: Record<string, unknown>): void {
    const parsed = parseFaults(input, this.now());
    const next = this.config;
    for (const section of RULE_SECTIONS) if (section in input) next[section] = parsed[section] as never;
    if ('unsolvableRate' in input) next.unsolvableRate = parsed.unsolvableRate;
    if ('numericIds' in input) next.numericIds = parsed.numericIds;
    this.current = next;
  }

  reset(config: FaultConfig): void {
    this.set(config);
    this.counts = zeroCounts();
  }

  /** Unsolvable probability for a task submitted now. */
  unsolvableRate(fallback: number): number {
    return this.current.unsolvableRate ?? fallback;
  }

  get numericIds(): boolean {
    return this.current.numericIds === true;
  }

  /** Extra delay for a request arriving now (`slow` rules add up). */
  delayFor(phase: Phase): number {
    let delayMs = 0;
    for (const rule of this.current.slow) {
      if (this.fires(rule, phase)) delayMs += rule.delayMs + Math.round(this.random() * rule.jitterMs);
    }
    if (delayMs > 0) this.counts.slowed++;
    return delayMs;
  }

  /** The outage a request meets now, if any. */
  outageFor(phase: Phase): OutageRule | undefined {
    const outage = this.current.outage.find((r) => this.fires(r, phase));
    if (outage) this.counts[outage.mode === 'refuse' ? 'refused' : 'http500']++;
    return outage;
  }

  /** Faults that replace the answer once the request is parsed. */
  afterBody(phase: Phase): { errorCode?: string; nonsense?: NonsenseRule } {
    const limit = this.current.rateLimit.find((r) => this.fires(r, phase));
    if (limit) {
      this.counts.rateLimited++;
      return { errorCode: limit.code };
    }
    const error = this.current.errors.find((r) => this.fires(r, phase));
    if (error) {
      this.counts.errors++;
      const codes = error.codes ?? DEFAULT_ERROR_CODES[phase];
      return { errorCode: codes[Math.floor(this.random() * codes.length)] };
    }
    const nonsense = this.current.nonsense.find((r) => this.fires(r, phase));
    if (nonsense) this.counts.nonsense++;
    return { nonsense };
  }

  private fires(rule: RuleBase, phase: Phase): boolean {
    if (!rule.on.includes(phase)) return false;
    if (rule.times !== undefined && rule.times <= 0) return false;
    if (rule.expiresAt !== undefined && this.now() >= rule.expiresAt) return false;
    if (rule.rate < 1 && this.random() >= rule.rate) return false;
    if (rule.times !== undefined) rule.times--;
    return true;
  }

  private prune(): void {
    const now = this.now();
    const live = (r: RuleBase): boolean => (r.times === undefined || r.times > 0) && (r.expiresAt === undefined || now < r.expiresAt);
    for (const section of RULE_SECTIONS) (this.current[section] as RuleBase[]) = (this.current[section] as RuleBase[]).filter(live);
  }
}
