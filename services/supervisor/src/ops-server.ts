/**
 * The supervisor's ops HTTP server: probes and the dead-letter admin API.
 *
 *   GET    /health, /livez              liveness + detail (always 200 while the loop runs)
 *   GET    /health/ready, /readyz       200 when Redis answers and the groups exist, else 503
 *   GET    /metrics                     Prometheus: reclaim/promote/dead-letter counters, stream gauges
 *   GET    /v1/dead-letter              ?limit&after&kind&taskId&reason&errorCode&since&until
 *   GET    /v1/dead-letter/:id          one entry with its attempt history and raw fields
 *   POST   /v1/dead-letter/:id/replay   replay one
 *   POST   /v1/dead-letter/replay       body {filter?: {...}, all?: true}: replay matching (or all)
 *   DELETE /v1/dead-letter/:id          purge one
 *   POST   /v1/dead-letter/purge        body {filter?: {...}, all?: true}: purge matching (or all)
 *
 * Admin routes require `Authorization: Bearer <ADMIN_TOKEN>` when a token is configured.
 * Bulk operations need either a non-empty filter or an explicit `all: true`.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import { withTimeout, type Logger } from '@solvestream/core';
import { WORKERS_GROUP, type Keyspace, type Transitions } from '@solvestream/contracts';
import {
  getDeadLetter, listDeadLetters, NotReplayableError, purgeDeadLetters, replayDeadLetter, replayMatching,
  type DeadLetterFilter,
} from './dead-letter';
import type { Supervisor } from './supervisor';
import type { Registry } from '@solvestream/telemetry';

export interface OpsServerOptions {
  redis: Redis;
  keys: Keyspace;
  transitions: Transitions;
  supervisor: Supervisor;
  logger: Logger;
  instance: string;
  adminToken?: string;
  /** Prometheus registry served at /metrics. */
  registry?: Registry;
}

const FILTER_KEYS = ['kind', 'taskId', 'reason', 'errorCode', 'since', 'until'] as const;

function parseFilter(src: Record<string, unknown> | undefined): DeadLetterFilter {
  const f: DeadLetterFilter = {};
  if (!src) return f;
  for (const k of FILTER_KEYS) {
    const v = src[k];
    if (v === undefined || v === '') continue;
    if (k === 'since' || k === 'until') {
      const n = Number(v);
      if (!Number.isFinite(n)) throw Object.assign(new Error(`${k}: must be epoch milliseconds`), { field: k });
      f[k] = n;
    } else {
      f[k] = String(v);
    }
  }
  return f;
}

const bad = (reply: FastifyReply, message: string, field?: string) =>
  reply.code(400).send({ error: { code: 'VALIDATION_FAILED', message, field } });

export function buildOpsServer(o: OpsServerOptions): FastifyInstance {
  const app = Fastify({ loggerInstance: o.logger.child({ component: 'ops-http' }) as unknown as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }), bodyLimit: 64 * 1024 });
  const ctx = { redis: o.redis, keys: o.keys, transitions: o.transitions };

  const liveness = async () => ({ status: 'ok', service: 'supervisor', instance: o.instance, redis: o.redis.status === 'ready' ? 'up' : 'down', stats: o.supervisor.stats });
  const readiness = async (_req: FastifyRequest, reply: FastifyReply) => {
    try {
      if (o.redis.status !== 'ready') throw new Error(`redis is ${o.redis.status}`);
      await withTimeout(o.redis.ping(), 1000, 'redis');
      for (const lane of o.keys.lanes) {
        const groups = (await withTimeout(o.redis.xinfo('GROUPS', lane), 1000, 'redis')) as unknown[][];
        if (!groups.some((g) => g[1] === WORKERS_GROUP)) throw new Error(`group ${WORKERS_GROUP} missing on ${lane}`);
      }
      return { status: 'ready' };
    } catch (err) {
      return reply.code(503).send({ status: 'not_ready', error: err instanceof Error ? err.message : String(err) });
    }
  };
  app.get('/health', liveness);
  app.get('/livez', liveness);
  app.get('/health/ready', readiness);
  app.get('/readyz', readiness);
  if (o.registry) {
    const registry = o.registry;
    app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  }

  app.register(async function adminApi(admin) {
    admin.addHook('onRequest', async (req, reply) => {
      if (!o.adminToken) return;
      const given = Buffer.from(String(req.headers.authorization ?? '').replace(/^Bearer\s+/i, ''));
      const want = Buffer.from(o.adminToken);
      if (given.length !== want.length || !timingSafeEqual(given, want)) {
        return reply.code(401).send({ error: { code: 'UNAUTHORIZED', message: 'missing or wrong admin token' } });
      }
    });
    admin.get('/v1/dead-letter', async (req, reply) => {
      const q = req.query as Record<string, string>;
      const limit = q.limit === undefined ? 100 : Number(q.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return bad(reply, 'limit: must be an integer from 1 to 1000', 'limit');
      try {
        return await listDeadLetters(o.redis, o.keys, { limit, after: q.after, filter: parseFilter(q) });
      } catch (err) {
        return bad(reply, (err as Error).message, (err as { field?: string }).field);
      }
    });
    admin.get('/v1/dead-letter/:id', async (req, reply) => {
      const d = await getDeadLetter(o.redis, o.keys, (req.params as { id: string }).id).catch(() => undefined);
      return d ?? reply.code(404).send({ error: { code: 'NOT_FOUND', message: 'no such dead-letter entry' } });
    });
    admin.post('/v1/dead-letter/:id/replay', async (req, reply) => {
      try {
        return await replayDeadLetter(ctx, (req.params as { id: string }).id);
      } catch (err) {
        if (err instanceof NotReplayableError) return reply.code(409).send({ error: { code: err.code, message: err.message } });
        throw err;
      }
    });
    const bulk = (body: unknown, reply: FastifyReply): DeadLetterFilter | undefined => {
      const b = (body ?? {}) as { filter?: Record<string, unknown>; all?: unknown };
      let filter: DeadLetterFilter;
      try {
        filter = parseFilter(b.filter);
      } catch (err) {
        bad(reply, (err as Error).message, `filter.${(err as { field?: string }).field}`);
        return undefined;
      }
      if (Object.keys(filter).length === 0 && b.all !== true) {
        bad(reply, 'filter: give a non-empty filter, or "all": true to act on every entry', 'filter');
        return undefined;
      }
      return filter;
    };
    admin.post('/v1/dead-letter/replay', async (req, reply) => {
      const filter = bulk(req.body, reply);
      return filter ? replayMatching(ctx, filter) : reply;
    });
    admin.delete('/v1/dead-letter/:id', async (req, reply) => {
      const n = await purgeDeadLetters(o.redis, o.keys, {}, [(req.params as { id: string }).id]);
      return n ? { purged: n } : reply.code(404).send({ error: { code: 'NOT_FOUND', message: 'no such dead-letter entry' } });
    });
    admin.post('/v1/dead-letter/purge', async (req, reply) => {
      const filter = bulk(req.body, reply);
      return filter ? { purged: await purgeDeadLetters(o.redis, o.keys, filter) } : reply;
    });
  });

  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 503;
    if (status >= 500) o.logger.warn({ err: err.message }, 'ops request failed');
    return reply.code(status).send({ error: { code: status === 503 ? 'UNAVAILABLE' : 'BAD_REQUEST', message: err.message } });
  });
  return app;
}
