/**
 * `GET /v1/stats`: the queue as a client can use it to pace itself, plus the calling
 * tenant's own counters.
 *
 *   { mode: {mode, since, reason},
 *     queue: {critical: {queued, inFlight}, high: …, normal: …, low: …},
 *     delayed, deadLetter,
 *     outcomes: {solved, failed, cancelled},               every tenant, since the counters began
 *     tenant: {id, open, solved, failed, cancelled} }
 *
 * `queued` = lane length − entries delivered and not yet acked (`inFlight`). Outcome
 * counters are kept by the results dispatcher (delivery/dispatcher.ts), once per result.
 */
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { PRIORITIES, WORKERS_GROUP, isMode, type Keyspace, type Priority } from '@solvestream/contracts';
import { tenantOf } from '../auth';
import { guardRedis } from '../errors';
import { iso } from '../task-response';

export interface StatsDeps {
  redis: Redis;
  keys: Keyspace;
  clock: () => number;
}

const OUTCOMES = ['solved', 'failed', 'cancelled'] as const;

export function registerStatsRoutes(app: FastifyInstance, d: StatsDeps): void {
  app.get('/v1/stats', async (request, reply) => {
    const tenant = tenantOf(request).id;
    const body = await guardRedis(async () => {
      const p = d.redis.pipeline();
      for (const lane of d.keys.lanes) p.xlen(lane);
      for (const lane of d.keys.lanes) p.xpending(lane, WORKERS_GROUP);
      p.zcard(d.keys.delayed);
      p.xlen(d.keys.deadLetter);
      p.hgetall(d.keys.stats);
      p.hgetall(d.keys.mode);
      p.zcount(d.keys.openTasks(tenant), d.clock(), '+inf');
      const r = (await p.exec()) ?? [];
      const val = (i: number): unknown => {
        const [err, v] = r[i] ?? [null, undefined];
        if (err && !/NOGROUP|no such key/i.test(err.message)) throw err;
        return err ? undefined : v;
      };
      const n = d.keys.lanes.length;
      const queue = {} as Record<Priority, { queued: number; inFlight: number }>;
      PRIORITIES.forEach((p, i) => {
        const len = Number(val(i) ?? 0);
        const pending = Number((val(n + i) as [number] | undefined)?.[0] ?? 0);
        queue[p] = { queued: Math.max(0, len - pending), inFlight: pending };
      });
      const counters = (val(2 * n + 2) ?? {}) as Record<string, string>;
      const mode = (val(2 * n + 3) ?? {}) as Record<string, string>;
      const count = (field: string): number => Number(counters[field] ?? 0);
      return {
        mode: { mode: isMode(mode.mode) ? mode.mode : 'normal', ...(mode.since ? { since: iso(Number(mode.since)) } : {}), ...(mode.reason ? { reason: mode.reason } : {}) },
        queue,
        delayed: Number(val(2 * n) ?? 0),
        deadLetter: Number(val(2 * n + 1) ?? 0),
        outcomes: Object.fromEntries(OUTCOMES.map((o) => [o, count(o)])),
        tenant: { id: tenant, open: Number(val(2 * n + 4) ?? 0), ...Object.fromEntries(OUTCOMES.map((o) => [o, count(`t:${tenant}:${o}`)])) },
      };
    });
    return reply.code(200).send(body);
  });
}
