/**
 * The REST task API (every route needs `Authorization: Bearer <key>` unless the API is
 * open; a tenant sees only its own tasks — another tenant's id is a 404).
 *
 *   POST /v1/tasks                {type, params, priority?, idempotencyKey?, callbackUrl?}
 *                                 → 202 {id, status: "queued", type, priority, createdAt} + Location
 *                                 → 200 the existing task when the idempotency key was seen before
 *                                   (`Idempotent-Replayed: true`); 409 if it came with another request
 *                                 → 429 RATE_LIMITED | TENANT_QUEUE_FULL | QUEUE_FULL | MODE_RESTRICTED + Retry-After
 *   GET  /v1/tasks/:id[?wait=N]   → 200 the task (long-poll up to N s for a terminal state), 404
 *   GET  /v1/tasks/:id/events     → 200 {id, events: [{event, at, data}], truncated}
 *   POST /v1/tasks/:id/cancel     → 200 the cancelled task, 409 TASK_NOT_CANCELLABLE (already ended), 404
 *
 * Submit is ONE atomic transition after admission (submit.ts), so a 202 means the task
 * is durably queued and will reach exactly one outcome. Request bodies are never logged:
 * params may carry proxy passwords.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Logger } from '@solvestream/core';
import type { Transitions } from '@solvestream/contracts';
import type { Redis } from 'ioredis';
import type { Keyspace } from '@solvestream/contracts';
import { tenantOf } from '../auth';
import { HttpError, guardRedis, type ErrorCode } from '../errors';
import { isTaskId } from '../ids';
import { awaitTaskOutcome } from '../long-poll';
import type { ResultsNotifier } from '../results-listener';
import type { RefusalReason, SubmitService } from '../submit';
import { taskHistory } from '../task-events';
import type { TaskReader } from '../task-reader';
import { parseSubmitBody, parseWait } from '../task-request';
import { iso, presentTask, taskLocation, type SubmittedResource } from '../task-response';

export interface TaskRoutesDeps {
  redis: Redis;
  keys: Keyspace;
  transitions: Transitions;
  submitter: SubmitService;
  reader: TaskReader;
  logger: Logger;
  clock: () => number;
  notifier: ResultsNotifier;
  /** Cap of `?wait=`, seconds. */
  maxWaitSeconds: number;
  allowPrivateCallbacks: boolean;
}

const notFound = (id: string): HttpError => new HttpError('TASK_NOT_FOUND', `no task with id ${id} (unknown, expired after its result TTL, or not yours)`, 'id');

export const REFUSAL_CODES: Record<RefusalReason, ErrorCode> = {
  'rate-limited': 'RATE_LIMITED',
  'tenant-full': 'TENANT_QUEUE_FULL',
  'queue-full': 'QUEUE_FULL',
  mode: 'MODE_RESTRICTED',
};

/** Aborts when the client disconnects before we answered (long-polls stop waiting). */
export function clientGone(reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) ac.abort();
  });
  return ac.signal;
}

export function registerTaskRoutes(app: FastifyInstance, deps: TaskRoutesDeps): void {
  const { redis, keys, transitions, submitter, reader, logger, clock, notifier, maxWaitSeconds } = deps;

  app.post('/v1/tasks', async (request, reply) => {
    const tenant = tenantOf(request);
    const req = parseSubmitBody(request.body, { idempotencyHeader: request.headers['idempotency-key'], allowPrivateCallbacks: deps.allowPrivateCallbacks });
    if (req.callbackUrl && !tenant.webhookSecret) {
      throw new HttpError('VALIDATION_FAILED', 'webhooks need a signing secret: none is configured for this tenant (WEBHOOK_SECRET, or the tenant\'s webhookSecret)', 'callbackUrl');
    }
    const out = await guardRedis(() =>
      submitter.submit({
        tenant, spec: { type: req.type, params: req.params } as typeof req, priority: req.priority, source: 'rest',
        idempotencyKey: req.idempotencyKey, callbackUrl: req.callbackUrl,
      }),
    );
    switch (out.kind) {
      case 'refused':
        throw new HttpError(REFUSAL_CODES[out.reason], `${out.detail}; retry later`, undefined, { retryAfterSeconds: Math.max(1, Math.ceil(out.retryAfterMs / 1000)) });
      case 'existing': {
        if (!out.sameRequest) throw new HttpError('IDEMPOTENCY_KEY_REUSED', 'this idempotency key was already used for a different request', 'idempotencyKey');
        const view = out.view && out.view.tenant === tenant.id ? await guardRedis(() => reader.read(out.taskId, tenant.id)) : undefined;
        if (!view) throw notFound(out.taskId); // the task expired after its result TTL while the key lived on
        return reply.code(200).header('location', taskLocation(out.taskId)).header('idempotent-replayed', 'true').send(presentTask(view));
      }
      case 'created': {
        const { entry } = out;
        logger.debug({ taskId: entry.taskId, type: entry.type, priority: entry.priority, tenant: tenant.id }, 'task submitted');
        const body: SubmittedResource = { id: entry.taskId, status: 'queued', type: entry.type, priority: entry.priority, createdAt: iso(entry.submittedAt) };
        return reply.code(202).header('location', taskLocation(entry.taskId)).send(body);
      }
    }
  });

  app.get<{ Params: { id: string } }>('/v1/tasks/:id', async (request, reply) => {
    const tenant = tenantOf(request).id;
    const { id } = request.params;
    const waitSeconds = parseWait(request.query, maxWaitSeconds);
    if (!isTaskId(id)) throw notFound(id.slice(0, 64));
    const read = () => reader.read(id, tenant);
    const view =
      waitSeconds === 0
        ? await guardRedis(read)
        : await guardRedis(() => awaitTaskOutcome({ taskId: id, waitMs: waitSeconds * 1000, notifier, read, signal: clientGone(reply) }));
    if (!view) throw notFound(id);
    return reply.code(200).send(presentTask(view));
  });

  app.get<{ Params: { id: string } }>('/v1/tasks/:id/events', async (request, reply) => {
    const tenant = tenantOf(request).id;
    const { id } = request.params;
    if (!isTaskId(id)) throw notFound(id.slice(0, 64));
    const view = await guardRedis(() => reader.read(id, tenant));
    if (!view) throw notFound(id);
    // Event ids carry Redis's clock, the projection the callers' clocks: allow for skew.
    const skew = 60_000;
    const h = await guardRedis(() =>
      taskHistory({ redis, keys, taskId: id, from: view.createdAt - skew, to: Math.max(view.updatedAt, view.completedAt ?? 0) + skew }),
    );
    return reply.code(200).send({
      id,
      events: h.events.map((e) => ({ event: e.event, at: iso(e.at), data: e.data })),
      truncated: h.truncated,
    });
  });

  app.post<{ Params: { id: string } }>('/v1/tasks/:id/cancel', async (request, reply) => {
    const tenant = tenantOf(request).id;
    const { id } = request.params;
    if (!isTaskId(id)) throw notFound(id.slice(0, 64));
    const r = await guardRedis(() => transitions.cancel({ taskId: id, tenant, reason: 'cancelled by the client', now: clock() }));
    if (r.kind === 'no-task') throw notFound(id);
    if (r.kind === 'terminal') throw new HttpError('TASK_NOT_CANCELLABLE', `the task already ended (${r.status})`, 'id');
    const view = await guardRedis(() => reader.read(id, tenant));
    if (!view) throw notFound(id);
    return reply.code(200).send(presentTask(view));
  });
}
