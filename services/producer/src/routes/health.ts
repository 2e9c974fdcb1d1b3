/**
 * Health endpoints (DESIGN.md, "Observability").
 *
 *   GET /health, /livez        liveness with detail: ALWAYS 200 while the process can answer
 *                              (a Redis outage is not a reason to restart the producer).
 *                              {status:"ok", service:"producer", instance, redis:"up"|"down",
 *                               uptimeSeconds, resultsListener:{state, waiters}}
 *   GET /health/ready, /readyz readiness: 200 only when Redis answers PING within
 *                              `probeTimeoutMs` AND the `workers` group exists on every task
 *                              lane; else 503 with the usual error object plus `checks`.
 *
 * Readiness heals what it can: if Redis is up but the groups are gone (a wiped Redis,
 * a FLUSHALL), it recreates them (`ensureWorkerGroups`, idempotent; entries already in a
 * lane are still delivered because groups start at id 0) and reports ready only if that
 * worked.
 */
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { ensureWorkerGroups, fieldsToObject, WORKERS_GROUP, type Keyspace } from '@solvestream/contracts';
import { withTimeout, type Logger } from '@solvestream/core';
import type { ResultsNotifier } from '../results-listener';

export interface HealthDeps {
  redis: Redis;
  keys: Keyspace;
  logger: Logger;
  clock: () => number;
  notifier: ResultsNotifier;
  /** Identifies this process in /health (host, pid, random suffix). */
  instance: string;
  /** Deadline of each Redis probe, ms. Default 1,000 (Kubernetes' default probe timeout). */
  probeTimeoutMs?: number;
}

type Probe = 'up' | 'down';
type GroupCheck = 'present' | 'recreated' | 'missing' | 'unknown';

async function pingRedis(redis: Redis, timeoutMs: number): Promise<Probe> {
  try {
    return (await withTimeout(redis.ping(), timeoutMs, 'redis')) === 'PONG' ? 'up' : 'down';
  } catch {
    return 'down';
  }
}

/** True when every lane has the workers group. A missing lane counts as missing. */
async function groupsPresent(redis: Redis, keys: Keyspace): Promise<boolean> {
  const p = redis.pipeline();
  for (const lane of keys.lanes) p.xinfo('GROUPS', lane);
  const replies = (await p.exec()) ?? [];
  return replies.every(([err, groups]) => {
    if (err) return false; // ERR no such key
    return (groups as string[][]).some((g) => fieldsToObject(g.map(String)).name === WORKERS_GROUP);
  });
}

async function checkGroups(redis: Redis, keys: Keyspace, logger: Logger, timeoutMs: number): Promise<GroupCheck> {
  try {
    if (await withTimeout(groupsPresent(redis, keys), timeoutMs, 'redis')) return 'present';
  } catch {
    return 'unknown';
  }
  try {
    await withTimeout(ensureWorkerGroups(redis, keys), timeoutMs, 'redis');
    logger.warn('workers group was missing on a task lane: recreated');
    return 'recreated';
  } catch {
    return 'missing';
  }
}

export function registerHealthRoutes(app: FastifyInstance, deps: HealthDeps): void {
  const { redis, keys, logger, clock, notifier, instance } = deps;
  const timeoutMs = deps.probeTimeoutMs ?? 1_000;
  const startedAt = clock();

  const live = async (): Promise<Record<string, unknown>> => {
    const { state, waiters } = notifier.stats();
    return {
      status: 'ok',
      service: 'producer',
      instance,
      redis: await pingRedis(redis, timeoutMs),
      uptimeSeconds: Math.max(0, Math.floor((clock() - startedAt) / 1000)),
      resultsListener: { state, waiters },
    };
  };

  const ready = async (): Promise<{ ok: boolean; body: Record<string, unknown> }> => {
    const redisCheck = await pingRedis(redis, timeoutMs);
    const groups: GroupCheck = redisCheck === 'up' ? await checkGroups(redis, keys, logger, timeoutMs) : 'unknown';
    const ok = redisCheck === 'up' && (groups === 'present' || groups === 'recreated');
    const checks = { redis: redisCheck, workersGroup: groups };
    if (ok) return { ok, body: { status: 'ready', service: 'producer', checks } };
    const message = redisCheck === 'up' ? 'the workers group is missing on a task lane' : 'Redis does not answer PING';
    return { ok, body: { status: 'not_ready', service: 'producer', checks, error: { code: 'REDIS_UNAVAILABLE', message } } };
  };

  for (const path of ['/health', '/livez']) {
    app.get(path, async (_request, reply) => reply.code(200).send(await live()));
  }
  for (const path of ['/health/ready', '/readyz']) {
    app.get(path, async (_request, reply) => {
      const r = await ready();
      return reply.code(r.ok ? 200 : 503).send(r.body);
    });
  }
}
