/**
 * Builds the producer's HTTP app from its dependencies. No I/O here and none at import
 * time: `main.ts` creates the Redis connections, the results listener and the
 * transitions and hands them in; tests hand in a private Redis and drive the app with
 * `app.inject()`.
 *
 * Lifecycle. `app.close()` is the drain path (fastify runs it in this order):
 *   1. preClose: new requests are refused with 503 SHUTTING_DOWN, and the results
 *      notifier is closed, which releases every long-poll: each answers at once with
 *      the task's current state.
 *   2. the server stops accepting connections and waits for in-flight requests.
 * Closing the Redis connection(s) is the caller's job, after `close()` resolves.
 */
import fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Keyspace, Transitions } from '@solvestream/contracts';
import type { Logger } from '@solvestream/core';
import { DEFAULT_BODY_LIMIT_BYTES } from './config';
import { HttpError, frameworkErrorHandler, installErrorHandling, sendError } from './errors';
import type { ResultsNotifier } from './results-listener';
import { registerHealthRoutes } from './routes/health';
import { registerTaskRoutes } from './routes/tasks';

export interface AppDeps {
  /** `role: 'api'` connection: fails fast (→ 503) instead of queueing while Redis is away. */
  redis: Redis;
  transitions: Transitions;
  keys: Keyspace;
  logger: Logger;
  /** Epoch ms; timestamps of submits and uptime. */
  clock: () => number;
  /** Wakes long-polls; normally a started `ResultsListener`. Closed by `app.close()`. */
  notifier: ResultsNotifier;
  /** Cap of `?wait=`, seconds. Default 60. */
  maxWaitSeconds?: number;
  /** Largest accepted body, bytes (→ 413). Default 1 MiB. */
  bodyLimitBytes?: number;
  /** Shown by /health. Default `producer`. */
  instance?: string;
}

export function buildApp(deps: AppDeps): FastifyInstance {
  const app = fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
    // We answer requests that arrive while draining ourselves, in the API's error shape.
    return503OnClosing: false,
    frameworkErrors: frameworkErrorHandler,
    // One line per request at info is too chatty for a hot API; errors are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
  });

  // JSON only: drop fastify's text/plain parser so anything but JSON is a 415.
  app.removeContentTypeParser('text/plain');
  installErrorHandling(app, deps.logger);

  let closing = false;
  app.addHook('onRequest', async (_request, reply) => {
    if (closing) {
      reply.header('connection', 'close');
      return sendError(reply, new HttpError('SHUTTING_DOWN', 'this instance is shutting down; retry on another'));
    }
  });
  app.addHook('preClose', async () => {
    closing = true;
    await deps.notifier.close();
  });

  registerHealthRoutes(app, {
    redis: deps.redis,
    keys: deps.keys,
    logger: deps.logger,
    clock: deps.clock,
    notifier: deps.notifier,
    instance: deps.instance ?? 'producer',
  });
  registerTaskRoutes(app, {
    redis: deps.redis,
    transitions: deps.transitions,
    keys: deps.keys,
    logger: deps.logger,
    clock: deps.clock,
    notifier: deps.notifier,
    maxWaitSeconds: deps.maxWaitSeconds ?? 60,
  });
  return app;
}
