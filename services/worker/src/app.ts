/**
 * Builds a worker from its dependencies (no I/O at import). `main.ts` supplies real
 * Redis connections and config; tests supply their own.
 */
import type { Redis } from 'ioredis';
import { keyspace, Transitions } from '@solvestream/contracts';
import type { Logger } from '@solvestream/core';
import type { ProviderConfig } from './provider/client';
import type { ProviderRouter } from './provider/router';
import { buildProviders, wireAlerts, type RoutingOptions } from './provider/setup';
import { Worker } from './worker';
import type { WorkerMetrics } from './metrics';
import { TYPICAL_SOLVE_MS } from './config';
import type { Provider } from './solve';

export interface BuildWorkerOptions {
  redis: Redis;
  blockingRedis: Redis;
  logger: Logger;
  consumer: string;
  /** The primary provider. */
  provider: ProviderConfig;
  /** Providers tried after the primary, in order (failover). */
  fallbacks?: ProviderConfig[];
  /** Breakers, balance checks, poll concurrency, alerts cap. */
  routing?: RoutingOptions;
  keyPrefix?: string;
  partition?: string;
  concurrency?: number;
  blockMs?: number;
  leaseMs?: number;
  /** Prometheus metrics fed by the loop (optional: tests may omit). */
  metrics?: WorkerMetrics;
  traceParentMode?: 'link' | 'parent';
  maxFailures?: number;
  heartbeatMs?: number;
  checkpointCheckMs?: number;
  version?: string;
  pollIntervalMs?: number;
  pollFirstDelayScale?: number;
  resultTtlSeconds?: number;
  eventsMaxLen?: number;
  resultsMaxLen?: number;
  clock?: () => number;
}

export function buildWorker(o: BuildWorkerOptions): { worker: Worker; providers: ReadonlyMap<string, Provider>; router: ProviderRouter } {
  const keys = keyspace({ prefix: o.keyPrefix, partition: o.partition });
  const transitions = new Transitions(o.redis, keys, {
    resultTtlSeconds: o.resultTtlSeconds,
    eventsMaxLen: o.eventsMaxLen,
    resultsMaxLen: o.resultsMaxLen,
  });
  const clock = o.clock ?? Date.now;
  const router = buildProviders({
    providers: [o.provider, ...(o.fallbacks ?? [])], pollIntervalMs: o.pollIntervalMs, clock, logger: o.logger, ...o.routing,
    observe: o.metrics?.providerCall,
  });
  wireAlerts(router, { redis: o.redis, keys, source: o.consumer, logger: o.logger, maxLen: o.routing?.alertsMaxLen });
  const providers = router.providers;
  const scale = o.pollFirstDelayScale ?? 1;
  const worker = new Worker({
    redis: o.redis,
    blockingRedis: o.blockingRedis,
    keys,
    transitions,
    logger: o.logger,
    consumer: o.consumer,
    concurrency: o.concurrency ?? 1000,
    blockMs: o.blockMs,
    leaseMs: o.leaseMs,
    metrics: o.metrics,
    traceParentMode: o.traceParentMode,
    maxFailures: o.maxFailures,
    heartbeatMs: o.heartbeatMs,
    checkpointCheckMs: o.checkpointCheckMs,
    version: o.version,
    solve: {
      providers,
      router,
      clock,
      firstPollDelayMs: (type) => Math.round(TYPICAL_SOLVE_MS[type] * scale),
    },
  });
  return { worker, providers, router };
}
