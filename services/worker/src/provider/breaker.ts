/**
 * A circuit breaker for one provider's submits.
 *
 *            N consecutive failures                 resetTimeoutMs passed
 *   CLOSED ───────────────────────────▶ OPEN ───────────────────────────▶ HALF-OPEN
 *     ▲                                   ▲                                  │
 *     │          any trial fails          └──────────────────────────────────┤
 *     └──────────────────────────────────────────────────────────────────────┘
 *                              M trial successes
 *
 *   CLOSED     every request may go. Each failure adds one; a success resets the count.
 *   OPEN       no request goes, until `resetTimeoutMs` after opening.
 *   HALF-OPEN  at most `halfOpenMaxTrials` requests at once go as trials; M successes
 *              close the breaker, any failure opens it again (and restarts the timeout).
 *
 * What counts is the caller's call: the router counts transport errors and
 * retry/capacity/failover/auth answers as failures, accepted submits as successes, and
 * permanent task errors (unsolvable, bad sitekey) as neither (`neutral`): the provider
 * answered properly about a task that cannot succeed anywhere.
 *
 * OPEN → HALF-OPEN happens lazily, when `state` is read or `acquire` is called after
 * the timeout (the router does so on every submit): no timers, and a test drives it
 * with a fake clock. Every transition is reported to the listeners synchronously.
 *
 * Stale outcomes: a request started before a transition (e.g. in CLOSED, answering after
 * the breaker opened) does not count. Each transition starts a new generation and a
 * permit remembers the one it was taken in.
 */

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failures that open the breaker (N). Default 5. */
  failureThreshold?: number;
  /** Time an open breaker waits before letting trials through, ms. Default 30,000. */
  resetTimeoutMs?: number;
  /** Trial requests allowed at once while half-open. Default 1. */
  halfOpenMaxTrials?: number;
  /** Trial successes that close a half-open breaker (M). Default 2. */
  successThreshold?: number;
  clock?: () => number;
}

export interface BreakerTransition {
  breaker: string;
  from: BreakerState;
  to: BreakerState;
  /** Epoch ms (breaker clock). */
  at: number;
  /** Why: `failures` (threshold reached), `trial-failed`, `reset-timeout`, `trials-succeeded`, `forced`. */
  reason: 'failures' | 'trial-failed' | 'reset-timeout' | 'trials-succeeded' | 'forced';
  /** Consecutive failures at the time (for `failures`). */
  failures: number;
}

/** Taken before a request, handed back with its outcome. */
export interface Permit {
  readonly generation: number;
  readonly trial: boolean;
}

export type BreakerOutcome = 'success' | 'failure' | 'neutral';

export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private generation = 0;
  private failures = 0;
  private successes = 0;
  private trials = 0;
  private openedAt = 0;
  private readonly listeners = new Set<(t: BreakerTransition) => void>();
  private readonly failureThreshold: number;
  private readonly resetTimeoutMs: number;
  private readonly halfOpenMaxTrials: number;
  private readonly successThreshold: number;
  private readonly clock: () => number;

  constructor(readonly name: string, o: BreakerOptions = {}) {
    this.failureThreshold = Math.max(1, o.failureThreshold ?? 5);
    this.resetTimeoutMs = Math.max(0, o.resetTimeoutMs ?? 30_000);
    this.halfOpenMaxTrials = Math.max(1, o.halfOpenMaxTrials ?? 1);
    this.successThreshold = Math.max(1, o.successThreshold ?? 2);
    this.clock = o.clock ?? Date.now;
  }

  /** The state now (an open breaker past its timeout reads, and becomes, half-open). */
  get state(): BreakerState {
    if (this.current === 'open' && this.clock() - this.openedAt >= this.resetTimeoutMs) {
      this.transition('half-open', 'reset-timeout');
    }
    return this.current;
  }

  /** Whether a request could go now, without taking a permit. */
  get available(): boolean {
    const s = this.state;
    return s === 'closed' || (s === 'half-open' && this.trials < this.halfOpenMaxTrials);
  }

  /** Epoch ms when an open breaker lets trials through; undefined unless open. */
  get retryAt(): number | undefined {
    return this.state === 'open' ? this.openedAt + this.resetTimeoutMs : undefined;
  }

  /** Counters for health output and metrics. */
  snapshot(): { state: BreakerState; failures: number; trials: number; successes: number } {
    return { state: this.state, failures: this.failures, trials: this.trials, successes: this.successes };
  }

  /**
   * Takes a permit for one request, or undefined when none may go (open, or every
   * half-open trial taken). Every permit must be handed back to `record` exactly once.
   */
  acquire(): Permit | undefined {
    const s = this.state;
    if (s === 'open') return undefined;
    if (s === 'closed') return { generation: this.generation, trial: false };
    if (this.trials >= this.halfOpenMaxTrials) return undefined;
    this.trials++;
    return { generation: this.generation, trial: true };
  }

  /** Hands back a permit with the request's outcome. */
  record(permit: Permit, outcome: BreakerOutcome): void {
    if (permit.generation !== this.generation) return; // started before a transition: stale
    if (this.current === 'closed') {
      if (outcome === 'success') this.failures = 0;
      else if (outcome === 'failure' && ++this.failures >= this.failureThreshold) this.transition('open', 'failures');
      return;
    }
    if (this.current !== 'half-open' || !permit.trial) return;
    this.trials--;
    if (outcome === 'failure') this.transition('open', 'trial-failed');
    else if (outcome === 'success' && ++this.successes >= this.successThreshold) this.transition('closed', 'trials-succeeded');
  }

  /** Opens or closes the breaker by hand (operator action, tests). */
  force(to: 'open' | 'closed'): void {
    if (this.state !== to) this.transition(to, 'forced');
  }

  /** Calls `fn` on every transition; returns an unsubscribe function. A throwing listener is ignored. */
  onTransition(fn: (t: BreakerTransition) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private transition(to: BreakerState, reason: BreakerTransition['reason']): void {
    const from = this.current;
    const failures = this.failures;
    this.current = to;
    this.generation++;
    this.trials = 0;
    this.successes = 0;
    if (to === 'open') this.openedAt = this.clock();
    if (to === 'closed') this.failures = 0;
    const t: BreakerTransition = { breaker: this.name, from, to, at: this.clock(), reason, failures };
    for (const fn of this.listeners) {
      try {
        fn(t);
      } catch {
        // A listener bug must not break routing.
      }
    }
  }
}
