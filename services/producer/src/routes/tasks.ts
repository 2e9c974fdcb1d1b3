/**
 * The REST task API.
 *
 *   POST /v1/tasks           {type, params, priority?} → 202 {id, status: "queued", type, priority, createdAt}
 *                            + `Location: /v1/tasks/<id>`
 *   GET  /v1/tasks/:id       → 200 the task (see task-response.ts), 404 TASK_NOT_FOUND
 *   GET  /v1/tasks/:id?wait=N  long-poll up to N seconds (≤ maxWaitSeconds) for a terminal
 *                            state; 200 with the current state either way
 *
 * Submit is ONE atomic transition (`Transitions.submit`: projection `queued`, `events`
 * += submitted, `tasks:<priority>` += the entry), so a 202 means the task is durably
 * queued and will reach exactly one outcome. Request bodies are never logged: params
 * may carry proxy passwords.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Redis } from 'ioredis';
import {
  DEFAULT_DEADLINE_SECONDS,
  readTask,
  type Keyspace,
  type TaskEntry,
  type TaskView,
  type Transitions,
} from '@solvestream/contracts';
import type { Logger } from '@solvestream/core';
import { HttpError, guardRedis } from '../errors';
import { isTaskId, newTaskId } from '../ids';
import { awaitTaskOutcome } from '../long-poll';
import type { ResultsNotifier } from '../results-listener';
import { parseSubmitBody, parseWait } from '../task-request';
import { iso, presentTask, taskLocation, type SubmittedResource } from '../task-response';
import { tenantOf } from '../tenant';

export interface TaskRoutesDeps {
  redis: Redis;
  transitions: Transitions;
  keys: Keyspace;
  logger: Logger;
  clock: () => number;
  notifier: ResultsNotifier;
  /** Cap of `?wait=`, seconds. */
  maxWaitSeconds: number;
}

const notFound = (id: string): HttpError => new HttpError('TASK_NOT_FOUND', `no task with id ${id} (unknown, or expired after its result TTL)`, 'id');

/** Aborts when the client disconnects before we answered (long-polls stop waiting). */
function clientGone(reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) ac.abort();
  });
  return ac.signal;
}

export function registerTaskRoutes(app: FastifyInstance, deps: TaskRoutesDeps): void {
  const { redis, transitions, keys, logger, clock, notifier, maxWaitSeconds } = deps;
  const read = (id: string): Promise<TaskView | undefined> => readTask(redis, keys, id);

  app.post('/v1/tasks', async (request, reply) => {
    const spec = parseSubmitBody(request.body);
    const now = clock();
    const entry: TaskEntry = {
      taskId: newTaskId(),
      type: spec.type,
      params: spec.params,
      tenant: tenantOf(request),
      priority: spec.priority,
      attempt: 1,
      submittedAt: now,
      deadline: now + DEFAULT_DEADLINE_SECONDS[spec.type] * 1000,
      trace: {},
    };
    await guardRedis(() => transitions.submit({ entry, now }));
    logger.debug({ taskId: entry.taskId, type: entry.type, priority: entry.priority }, 'task submitted');
    const body: SubmittedResource = { id: entry.taskId, status: 'queued', type: entry.type, priority: entry.priority, createdAt: iso(now) };
    return reply.code(202).header('location', taskLocation(entry.taskId)).send(body);
  });

  app.get<{ Params: { id: string } }>('/v1/tasks/:id', async (request, reply) => {
    const { id } = request.params;
    const waitSeconds = parseWait(request.query, maxWaitSeconds);
    if (!isTaskId(id)) throw notFound(id.slice(0, 64));
    const view =
      waitSeconds === 0
        ? await guardRedis(() => read(id))
        : await guardRedis(() =>
            awaitTaskOutcome({ taskId: id, waitMs: waitSeconds * 1000, notifier, read: () => read(id), signal: clientGone(reply) }),
          );
    if (!view) throw notFound(id);
    return reply.code(200).send(presentTask(view));
  });
}
