/**
 * The failover router over an ordered list of providers (the first is the primary).
 *
 * Submits: a new task goes to the first *eligible* provider — its breaker lets a request
 * through and its balance is not below its minimum. If that provider refuses the task
 * with a retry / capacity / failover / auth class error (or the request fails), the same
 * task moves on to the next eligible provider, in order. Once a provider has answered
 * with a task id the task belongs to it: it is checkpointed and polled there, never
 * submitted anywhere else. A permanent error (bad sitekey, image too big) ends the task
 * at once: no other provider would take it either. When all eligible providers refused,
 * `submit` rejects with the last refusal and the caller retries the task later with
 * backoff. When no provider is eligible at all, nothing is sent and `submit` rejects
 * with `NO_HEALTHY_PROVIDER` (capacity class); `nextChanceInMs` tells when the earliest
 * open breaker lets a trial through.
 *
 * Health: every submit outcome feeds that provider's breaker (failures: transport errors
 * and retry/capacity/failover/auth answers; successes: accepted submits; permanent
 * answers: neither). Polls do not: the poller retries a failed poll on its own, and a
 * task in flight stays with the provider that holds it whatever its breaker says. An
 * open breaker lets trials through after its reset timeout; once it closes again the
 * provider gets new tasks again, primary first.
 *
 * A submit whose answer is lost (timeout, connection reset, garbled body) may still have
 * been accepted upstream. The v1 and JSON APIs have no idempotency key, so neither a
 * retry nor a failover can rule out a second solve in that case; the router treats it
 * as refused, like the single-provider path did before it.
 *
 * Runtime settings (`configure`, from the versioned runtime config): the preference
 * order of new submits, and providers switched off for new tasks. A switched-off
 * provider still polls and reports the tasks it holds; the set of providers itself is
 * fixed at start-up (a checkpoint must keep naming the same endpoint).
 *
 * Events (`onEvent`): breaker open/closed and balance low/ok, for alerts and metrics.
 */
import type { SendGuard } from '../send-guard';
import type { Logger } from '@solvestream/core';
import type { TaskSpec, TaskType } from '@solvestream/contracts';
import type { ProviderClient } from './client';
import type { Poller } from './poller';
import { ProviderError } from './errors';
import { CircuitBreaker, type BreakerOptions, type BreakerTransition } from './breaker';
import { BalanceMonitor, type BalanceChange } from './balance';
import type { ReportVerdict } from './types';

/** Code of the error `submit` rejects with when no provider may take a new task (nothing was sent). */
export const NO_HEALTHY_PROVIDER = 'NO_HEALTHY_PROVIDER';

export interface RoutedProvider {
  readonly name: string;
  readonly client: ProviderClient;
  readonly poller: Poller;
  readonly breaker: CircuitBreaker;
  /** Present when the provider has a `minBalance`. */
  readonly balance: BalanceMonitor | undefined;
}

export type RouterEvent =
  | { kind: 'provider-breaker-open' | 'provider-breaker-closed' | 'provider-breaker-half-open'; provider: string; at: number; transition: BreakerTransition }
  | { kind: 'provider-balance-low' | 'provider-balance-ok'; provider: string; at: number; change: BalanceChange };

export interface RouterOptions {
  /** In order of preference; the first is the primary. Names must be unique. */
  providers: readonly { client: ProviderClient; poller: Poller }[];
  breaker?: Omit<BreakerOptions, 'clock'>;
  /** Interval of the balance checks, ms. Default 60,000. */
  balanceIntervalMs?: number;
  clock?: () => number;
  logger?: Logger;
}

export interface ProviderHealth {
  name: string;
  protocol: string;
  eligible: boolean;
  /** false while the runtime config switches it off for new tasks. */
  enabled: boolean;
  breaker: ReturnType<CircuitBreaker['snapshot']>;
  balance?: { state: string; minBalance: number; last?: number };
}

export class ProviderRouter {
  /** Providers by name (the checkpoint names the one holding a task). */
  readonly providers: ReadonlyMap<string, RoutedProvider>;
  /** Start-up order (the env's), the base that `configure` reorders. */
  private readonly initial: readonly RoutedProvider[];
  private current: readonly RoutedProvider[];
  private disabled = new Set<string>();
  private readonly listeners = new Set<(e: RouterEvent) => void>();
  private readonly log: Logger | undefined;
  private readonly clock: () => number;

  constructor(o: RouterOptions) {
    if (o.providers.length === 0) throw new Error('the router needs at least one provider');
    const clock = o.clock ?? Date.now;
    this.clock = clock;
    this.log = o.logger;
    const order: RoutedProvider[] = o.providers.map(({ client, poller }) => {
      const breaker = new CircuitBreaker(client.name, { ...o.breaker, clock });
      breaker.onTransition((t) => this.onBreaker(t));
      const balance = client.minBalance === undefined ? undefined : new BalanceMonitor(client, {
        minBalance: client.minBalance, intervalMs: o.balanceIntervalMs, clock, logger: o.logger,
        onChange: (c) => this.onBalance(c),
      });
      return { name: client.name, client, poller, breaker, balance };
    });
    const byName = new Map<string, RoutedProvider>();
    for (const p of order) {
      if (byName.has(p.name)) throw new Error(`provider name ${JSON.stringify(p.name)} is used twice`);
      byName.set(p.name, p);
    }
    this.initial = order;
    this.current = order;
    this.providers = byName;
  }

  /** Providers in order of preference for new submits. */
  get order(): readonly RoutedProvider[] {
    return this.current;
  }

  /**
   * Applies runtime settings: `order` names go first, in that order, the rest follow in
   * start-up order; `disabled` providers take no new tasks. Names this router does not
   * know are returned (and otherwise ignored). Calling it with `{}` restores start-up.
   */
  configure(o: { order?: readonly string[]; disabled?: Iterable<string> }): string[] {
    const unknown = new Set<string>();
    const first: RoutedProvider[] = [];
    for (const name of o.order ?? []) {
      const p = this.providers.get(name);
      if (p) first.push(p);
      else unknown.add(name);
    }
    this.current = [...first, ...this.initial.filter((p) => !first.includes(p))];
    this.disabled = new Set();
    for (const name of o.disabled ?? []) {
      if (this.providers.has(name)) this.disabled.add(name);
      else unknown.add(name);
    }
    return [...unknown];
  }

  get(name: string): RoutedProvider | undefined {
    return this.providers.get(name);
  }

  /** Starts the balance checks (one at once, then every interval). */
  start(): void {
    for (const p of this.initial) p.balance?.start();
  }

  /** Stops the balance checks and closes idle connections. Pollers are closed by their owner. Safe to call twice. */
  close(): void {
    for (const p of this.initial) {
      p.balance?.stop();
      p.client.close();
    }
  }

  /** Runs one balance check on every provider that has a minimum, now. */
  async checkBalances(): Promise<void> {
    await Promise.all(this.initial.map((p) => p.balance?.check()));
  }

  /** Why `p` takes no new task right now, or undefined when it does. */
  private ineligible(p: RoutedProvider): string | undefined {
    if (this.disabled.has(p.name)) return 'disabled by config';
    if (p.balance?.state === 'low') return 'balance low';
    if (!p.breaker.available) return `breaker ${p.breaker.state}`;
    return undefined;
  }

  health(): ProviderHealth[] {
    return this.order.map((p) => ({
      name: p.name,
      protocol: p.client.protocol,
      eligible: this.ineligible(p) === undefined,
      enabled: !this.disabled.has(p.name),
      breaker: p.breaker.snapshot(),
      balance: p.balance && { state: p.balance.state, minBalance: p.balance.minBalance, last: p.balance.lastBalance?.balance },
    }));
  }

  /**
   * Submits `spec` to the first eligible provider, moving on after a non-permanent
   * refusal. Resolves with the provider that accepted it and its task id; rejects with
   * the permanent error, the last refusal, or `NO_HEALTHY_PROVIDER` (capacity class).
   */
  async submit(spec: TaskSpec, guard?: SendGuard): Promise<{ provider: RoutedProvider; providerTaskId: string }> {
    let last: ProviderError | undefined;
    const skipped: string[] = [];
    for (const p of this.order) {
      const why = this.ineligible(p);
      const permit = why === undefined ? p.breaker.acquire() : undefined;
      if (!permit) {
        skipped.push(`${p.name}: ${why ?? `breaker ${p.breaker.state}`}`);
        continue;
      }
      try {
        const providerTaskId = await p.client.submit(spec, guard);
        p.breaker.record(permit, 'success');
        if (last) this.log?.info({ provider: p.name, after: last.provider, code: last.code }, 'task failed over');
        return { provider: p, providerTaskId };
      } catch (err) {
        if (!(err instanceof ProviderError)) {
          p.breaker.record(permit, 'neutral');
          throw err;
        }
        if (err.errorClass === 'permanent') {
          p.breaker.record(permit, 'neutral');
          throw err;
        }
        p.breaker.record(permit, 'failure');
        last = err;
      }
    }
    if (last) throw last;
    const primary = this.order[0] as RoutedProvider;
    throw new ProviderError(primary.name, NO_HEALTHY_PROVIDER, 'capacity', `no provider takes new tasks now (${skipped.join('; ')})`);
  }

  /**
   * After `NO_HEALTHY_PROVIDER`: ms until the earliest open breaker lets a trial through,
   * or undefined when no time is known (balance low, half-open trials all taken).
   */
  nextChanceInMs(): number | undefined {
    const now = this.clock();
    let best: number | undefined;
    for (const p of this.order) {
      const at = p.balance?.state === 'low' || this.disabled.has(p.name) ? undefined : p.breaker.retryAt;
      if (at !== undefined) best = Math.min(best ?? Infinity, Math.max(0, at - now));
    }
    return best;
  }

  /** Reports a provider task id as good or bad to the provider that solved it. */
  async report(provider: string, providerTaskId: string, type: TaskType, verdict: ReportVerdict): Promise<void> {
    const p = this.providers.get(provider);
    if (!p) throw new ProviderError(provider, 'UNKNOWN_PROVIDER', 'permanent', `provider ${JSON.stringify(provider)} is not configured on this worker`);
    await p.client.report(providerTaskId, type, verdict);
  }

  /** Calls `fn` on every router event; returns an unsubscribe function. A throwing listener is ignored. */
  onEvent(fn: (e: RouterEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(e: RouterEvent): void {
    for (const fn of this.listeners) {
      try {
        fn(e);
      } catch (err) {
        this.log?.error({ err: err instanceof Error ? err.message : String(err), kind: e.kind }, 'router event listener failed');
      }
    }
  }

  private onBreaker(t: BreakerTransition): void {
    const level = t.to === 'open' ? 'warn' : 'info';
    this.log?.[level]({ provider: t.breaker, from: t.from, to: t.to, reason: t.reason, failures: t.failures }, `provider breaker ${t.to}`);
    this.emit({ kind: `provider-breaker-${t.to}`, provider: t.breaker, at: t.at, transition: t });
  }

  private onBalance(c: BalanceChange): void {
    const level = c.to === 'low' ? 'warn' : 'info';
    this.log?.[level]({ provider: c.provider, balance: c.balance, minBalance: c.minBalance }, `provider balance ${c.to}`);
    this.emit({ kind: `provider-balance-${c.to}`, provider: c.provider, at: c.at, change: c });
  }
}
