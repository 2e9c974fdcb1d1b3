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
 *   2. the server stops accepting connections and waits for in-flight requests; every
 *      answer sent from step 1 on carries `Connection: close`, so no keep-alive
 *      connection outlives its last request.
 * Closing the Redis connection(s) is the caller's job, after `close()` resolves.
 */
import { Counter, type Registry } from '@solvestream/telemetry';
import fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { Admission, type Keyspace, type Transitions } from '@solvestream/contracts';
import type { Logger } from '@solvestream/core';
import { installRestAuth } from './auth';
import { DEFAULT_BODY_LIMIT_BYTES } from './config';
import { HttpError, frameworkErrorHandler, installErrorHandling, sendError } from './errors';
import { registerGateway } from './gateway';
import { lazyRequestLogger } from './request-logger';
import type { ResultsNotifier } from './results-listener';
import { registerDocs } from './routes/docs';
import { registerHealthRoutes } from './routes/health';
import { registerResultStream } from './routes/result-stream';
import { registerStatsRoutes } from './routes/stats';
import { registerTaskRoutes } from './routes/tasks';
import { SubmitService } from './submit';
import { TaskReader } from './task-reader';
import { TenantDirectory } from './tenants';

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
  /** Tenants and keys. Default: no static tenants, defaults unlimited (open unless Redis holds keys). */
  tenants?: TenantDirectory;
  /** Admission scripts. Default: built on `redis`. */
  admission?: Admission;
  /** Back-pressure cap on lanes + delayed; 0 = none. Default 100,000. */
  maxQueueDepth?: number;
  /** A task still open this long after its deadline is failed on read, ms. Default 30,000. */
  expireGraceMs?: number;
  /** Most ids in one res.php multi-get. Default 100. */
  gatewayMaxIds?: number;
  /** reportgood/reportbad window after the solve, ms; 0 = always. Default 15 min. */
  reportWindowMs?: number;
  /** Accept callbackUrl hosts on loopback/private IP literals. Default false. */
  allowPrivateCallbacks?: boolean;
  /** Prometheus registry: when given, submits are counted and `/metrics` serves it. */
  registry?: Registry;
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
    // request.log is built on first use only (request-logger.ts): nothing of ours logs through it.
    childLoggerFactory: lazyRequestLogger,
  });

  // JSON only: drop fastify's text/plain parser so anything but JSON is a 415.
  app.removeContentTypeParser('text/plain');
  installErrorHandling(app, deps.logger);

  let closing = false;
  app.addHook('onRequest', async (_request, reply) => {
    if (closing) return sendError(reply, new HttpError('SHUTTING_DOWN', 'this instance is shutting down; retry on another'));
  });
  // Every answer sent while draining closes its connection: the refusals above, and a
  // request in flight when the server stops listening (a long-poll released below still
  // re-reads its task), whose keep-alive connection would otherwise become idle only
  // after close() swept the idle ones, and close() would wait for fastify's keep-alive
  // timeout (72 s).
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
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
  const { redis, keys, transitions, clock, notifier } = deps;
  const tenants = deps.tenants ?? new TenantDirectory({ redis, keys, defaults: { ratePerSecond: 0, burst: 0, maxOpen: 0 } });
  const admission = deps.admission ?? new Admission(redis, keys);
  const expireGraceMs = deps.expireGraceMs ?? 30_000;
  const submitted = deps.registry && new Counter({
    name: 'solvestream_tasks_submitted_total', help: 'Submits by type, API (rest, v1, json-api) and outcome (created, existing, or the refusal reason)',
    labelNames: ['type', 'source', 'outcome'], registers: [deps.registry],
  });
  const submitter = new SubmitService({
    redis, keys, transitions, admission, clock, maxQueueDepth: deps.maxQueueDepth ?? 100_000, expireGraceMs,
    onOutcome: (c, o) => submitted?.inc({ type: c.spec.type, source: c.source, outcome: o.kind === 'refused' ? o.reason : o.kind }),
  });
  if (deps.registry) {
    const registry = deps.registry;
    app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  }
  const reader = new TaskReader({ redis, keys, transitions, clock, graceMs: expireGraceMs });
  const bodyLimitBytes = deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;

  // REST: JSON only, Bearer auth, the API's error shape.
  // Named plugins: fastify (and the handler span names of @fastify/otel) would otherwise use the function source.
  void app.register(async function restApi(rest) {
    installRestAuth(rest, tenants);
    registerTaskRoutes(rest, {
      redis, keys, transitions, submitter, reader, clock, notifier,
      logger: deps.logger,
      maxWaitSeconds: deps.maxWaitSeconds ?? 60,
      allowPrivateCallbacks: deps.allowPrivateCallbacks ?? false,
    });
    registerStatsRoutes(rest, { redis, keys, clock });
    registerResultStream(rest, { redis, keys, notifier });
  });
  // The 2captcha / anti-captcha gateway: loose input, protocol answers (HTTP 200).
  void app.register(async function gatewayApi(gw) {
    await registerGateway(gw, {
      tenants, submitter, reader, transitions, admission, clock,
      logger: deps.logger as FastifyBaseLogger,
      maxIds: deps.gatewayMaxIds ?? 100,
      reportWindowMs: deps.reportWindowMs ?? 900_000,
      bodyLimitBytes,
    });
  });
  registerDocs(app);
  return app;
}
