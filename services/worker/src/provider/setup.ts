/**
 * Builds the provider layer of one worker from plain options: a client and a poller per
 * provider, the failover router over them (breakers, balance checks), and the wiring of
 * the router's events into the `alerts` stream. No I/O until `router.start()`.
 */
import type { Redis } from 'ioredis';
import { appendAlert, type AlertEntry, type Keyspace } from '@solvestream/contracts';
import type { Logger } from '@solvestream/core';
import { ProviderClient, type ProviderConfig } from './client';
import { Poller } from './poller';
import { ProviderRouter, type RouterEvent } from './router';
import type { BreakerOptions } from './breaker';

/** Routing knobs shared by every provider of a worker. */
export interface RoutingOptions {
  breaker?: Omit<BreakerOptions, 'clock'>;
  /** Interval of the balance checks, ms. Default 60,000. */
  balanceIntervalMs?: number;
  /** Poll requests in flight at once per provider. Default 8. */
  pollConcurrency?: number;
  /** Cap on the alerts stream (`MAXLEN ~`). Default 10,000. */
  alertsMaxLen?: number;
}

export interface BuildProvidersOptions extends RoutingOptions {
  /** In order of preference: the primary first, then the fallbacks. */
  providers: readonly ProviderConfig[];
  pollIntervalMs?: number;
  clock: () => number;
  logger: Logger;
  /** Told about every provider request (metrics). */
  observe?: ProviderConfig['observe'];
}

export function buildProviders(o: BuildProvidersOptions): ProviderRouter {
  return new ProviderRouter({
    providers: o.providers.map((config) => {
      const client = new ProviderClient(o.observe ? { ...config, observe: o.observe } : config);
      const poller = new Poller(client, {
        intervalMs: o.pollIntervalMs, maxConcurrentRequests: o.pollConcurrency, clock: o.clock,
        logger: o.logger.child({ provider: client.name }),
      });
      return { client, poller };
    }),
    breaker: o.breaker,
    balanceIntervalMs: o.balanceIntervalMs,
    clock: o.clock,
    logger: o.logger,
  });
}

/** The alert for a router event; half-open transitions are logged, not alerted. */
export function alertOf(e: RouterEvent, source: string): AlertEntry | undefined {
  if ('change' in e) {
    const c = e.change;
    const message = c.to === 'low'
      ? `provider ${c.provider}: balance ${c.balance} is below the minimum ${c.minBalance}; no new tasks go there`
      : `provider ${c.provider}: balance ${c.balance} is back at or above the minimum ${c.minBalance}; new tasks go there again`;
    return { kind: e.kind, source, message, at: Math.round(e.at), data: { provider: c.provider, balance: c.balance, minBalance: c.minBalance } };
  }
  const t = e.transition;
  if (t.to === 'half-open') return undefined;
  const message = t.to === 'open'
    ? `provider ${t.breaker}: circuit breaker open (${t.reason}); new tasks go to the next provider`
    : `provider ${t.breaker}: circuit breaker closed again; new tasks go there again`;
  return { kind: `provider-breaker-${t.to}`, source, message, at: Math.round(t.at), data: { provider: t.breaker, from: t.from, reason: t.reason, failures: t.failures } };
}

/** Appends every alert-worthy router event to `keys.alerts`. A failed append is logged, never thrown. */
export function wireAlerts(router: ProviderRouter, o: { redis: Redis; keys: Keyspace; source: string; logger: Logger; maxLen?: number }): () => void {
  return router.onEvent((e) => {
    const alert = alertOf(e, o.source);
    if (!alert) return;
    appendAlert(o.redis, o.keys, alert, { maxLen: o.maxLen }).catch((err: unknown) =>
      o.logger.warn({ kind: alert.kind, err: err instanceof Error ? err.message : String(err) }, 'could not append alert'));
  });
}
