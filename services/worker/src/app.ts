/**
 * Builds a worker from its dependencies (no I/O at import). `main.ts` supplies real
 * Redis connections and config; tests supply their own.
 */
import type { Redis } from 'ioredis';
import { keyspace, Transitions } from '@solvestream/contracts';
import type { Logger } from '@solvestream/core';
import { ProviderClient, type ProviderConfig } from './provider/client';
import { Poller } from './provider/poller';
import { Worker } from './worker';
import { TYPICAL_SOLVE_MS } from './config';
import type { Provider } from './solve';

export interface BuildWorkerOptions {
  redis: Redis;
  blockingRedis: Redis;
  logger: Logger;
  consumer: string;
  provider: ProviderConfig;
  keyPrefix?: string;
  partition?: string;
  concurrency?: number;
  blockMs?: number;
  leaseMs?: number;
  maxFailures?: number;
  heartbeatMs?: number;
  version?: string;
  pollIntervalMs?: number;
  pollFirstDelayScale?: number;
  resultTtlSeconds?: number;
  eventsMaxLen?: number;
  resultsMaxLen?: number;
  clock?: () => number;
}

export function buildWorker(o: BuildWorkerOptions): { worker: Worker; providers: Map<string, Provider> } {
  const keys = keyspace({ prefix: o.keyPrefix, partition: o.partition });
  const transitions = new Transitions(o.redis, keys, {
    resultTtlSeconds: o.resultTtlSeconds,
    eventsMaxLen: o.eventsMaxLen,
    resultsMaxLen: o.resultsMaxLen,
  });
  const clock = o.clock ?? Date.now;
  const client = new ProviderClient(o.provider);
  const poller = new Poller(client, { intervalMs: o.pollIntervalMs, clock, logger: o.logger.child({ provider: client.name }) });
  const providers = new Map<string, Provider>([[client.name, { client, poller }]]);
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
    maxFailures: o.maxFailures,
    heartbeatMs: o.heartbeatMs,
    version: o.version,
    solve: {
      providers,
      primary: client.name,
      clock,
      firstPollDelayMs: (type) => Math.round(TYPICAL_SOLVE_MS[type] * scale),
    },
  });
  return { worker, providers };
}
