/**
 * The producer process: the only place that reads the environment, creates the Redis
 * connections, installs signal handlers and listens.
 *
 * Connections: one `api` connection (requests fail fast → 503 while Redis is away),
 * one `blocking` connection owned by the results listener, one owned by the results
 * dispatcher (stats, open-task release, webhook scheduling) and one `worker`
 * connection for the webhook sender and the expiry sweeper.
 *
 * Tenants: TENANTS_FILE / TENANTS_JSON are read once here (a bad file stops start-up
 * naming the field); keys added with the `ss-tenants` CLI live in Redis. With no tenant
 * anywhere the API is open as tenant `default`, which is logged as a warning.
 *
 * SIGTERM/SIGINT (onShutdownSignal): `app.close()` refuses new requests, releases the
 * long-polls with their current state and waits for in-flight requests; then Redis is
 * closed and the process exits 0. A second signal, or 30 s, forces exit 1.
 */
import './telemetry';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import { Admission, keyspace, Transitions } from '@solvestream/contracts';
import { createRegistry, registerStreamMetrics, telemetryHandle } from '@solvestream/telemetry';
import { ConfigError, createLogger, createRedis, instanceId, logListening, onShutdownSignal, parseEnv, type Logger } from '@solvestream/core';
import { buildApp } from './app';
import { PRODUCER_ENV } from './config';
import { keepLanesReady } from './lanes';
import { ResultsDispatcher } from './delivery/dispatcher';
import { ExpirySweeper } from './delivery/expiry';
import { WebhookSender } from './delivery/webhooks';
import { ResultsListener } from './results-listener';
import { TaskReader } from './task-reader';
import { parseStaticTenants, TenantConfigError, TenantDirectory, type StaticTenants } from './tenants';

/** Logs a connection's errors at most once per `everyMs` (ioredis reports every failed reconnect). */
function connectionErrorLog(logger: Logger, connection: string, everyMs = 30_000): (err: Error) => void {
  let last = 0;
  let suppressed = 0;
  return (err) => {
    const now = Date.now();
    if (now - last < everyMs) {
      suppressed++;
      return;
    }
    logger.warn({ connection, error: err.message, code: (err as NodeJS.ErrnoException).code, suppressed }, 'redis connection error');
    last = now;
    suppressed = 0;
  };
}

async function main(): Promise<void> {
  let config;
  try {
    config = parseEnv(PRODUCER_ENV);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`producer: ${err.message}\n`);
    process.exit(1);
  }
  let staticTenants: StaticTenants | undefined;
  try {
    if (config.TENANTS_FILE) {
      let text: string;
      try {
        text = readFileSync(config.TENANTS_FILE, 'utf8');
      } catch (err) {
        throw new TenantConfigError('TENANTS_FILE', `cannot read ${config.TENANTS_FILE}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
      staticTenants = parseStaticTenants(text, 'TENANTS_FILE');
    }
    if (config.TENANTS_JSON) staticTenants = parseStaticTenants(config.TENANTS_JSON, 'TENANTS_JSON', staticTenants);
  } catch (err) {
    if (!(err instanceof TenantConfigError)) throw err;
    process.stderr.write(`producer: invalid configuration:\n  ${err.message}\n`);
    process.exit(1);
  }
  const instance = instanceId('producer', hostname());
  const logger = createLogger({ service: 'producer', level: config.LOG_LEVEL, base: { instance } });
  const keys = keyspace({ prefix: config.KEY_PREFIX, partition: config.PARTITION });

  const redis = createRedis({ url: config.REDIS_URL, name: `${instance}:api`, role: 'api', onError: connectionErrorLog(logger, 'api') });
  const blocking = createRedis({
    url: config.REDIS_URL,
    name: `${instance}:results`,
    role: 'blocking',
    onError: connectionErrorLog(logger, 'results'),
  });
  const transitions = new Transitions(redis, keys, {
    resultTtlSeconds: config.RESULT_TTL_SECONDS,
    eventsMaxLen: config.EVENTS_MAXLEN,
    resultsMaxLen: config.RESULTS_MAXLEN,
  });
  const listener = new ResultsListener({ redis: blocking, keys, logger }).start();
  const stopLanes = keepLanesReady(redis, keys, logger);
  const tenants = new TenantDirectory({
    redis, keys, static: staticTenants, authRequired: config.AUTH_REQUIRED, cacheMs: config.TENANT_CACHE_MS,
    defaults: { ratePerSecond: config.DEFAULT_RATE_PER_SECOND, burst: config.DEFAULT_BURST, maxOpen: config.DEFAULT_MAX_OPEN, webhookSecret: config.WEBHOOK_SECRET },
  });
  const admission = new Admission(redis, keys);
  const dispatcher = new ResultsDispatcher({
    redis: createRedis({ url: config.REDIS_URL, name: `${instance}:dispatch`, role: 'blocking', onError: connectionErrorLog(logger, 'dispatch') }),
    keys, logger, consumer: instance,
  }).start();
  const delivery = createRedis({ url: config.REDIS_URL, name: `${instance}:webhooks`, role: 'worker', onError: connectionErrorLog(logger, 'webhooks') });
  const deliveryTransitions = new Transitions(delivery, keys, {
    resultTtlSeconds: config.RESULT_TTL_SECONDS, eventsMaxLen: config.EVENTS_MAXLEN, resultsMaxLen: config.RESULTS_MAXLEN,
  });
  const webhooks = new WebhookSender({
    redis: delivery, keys, logger, tenants,
    admission: new Admission(delivery, keys),
    transitions: deliveryTransitions,
    reader: new TaskReader({ redis: delivery, keys, transitions: deliveryTransitions, clock: Date.now, graceMs: config.EXPIRE_GRACE_MS }),
    maxAttempts: config.WEBHOOK_MAX_ATTEMPTS, timeoutMs: config.WEBHOOK_TIMEOUT_MS,
  }).start();
  const sweeper = new ExpirySweeper({
    redis: delivery, keys, logger, transitions: deliveryTransitions, graceMs: config.EXPIRE_GRACE_MS,
    staticTenants: [...(staticTenants?.settings.keys() ?? [])],
  }).start();

  const registry = createRegistry('producer', instance);
  registerStreamMetrics(registry, redis, keys);
  const app = buildApp({
    registry,
    redis,
    transitions,
    keys,
    logger,
    clock: Date.now,
    notifier: listener,
    maxWaitSeconds: config.MAX_WAIT_SECONDS,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    instance,
    tenants,
    admission,
    maxQueueDepth: config.MAX_QUEUE_DEPTH,
    expireGraceMs: config.EXPIRE_GRACE_MS,
    gatewayMaxIds: config.GATEWAY_MAX_IDS,
    reportWindowMs: config.REPORT_WINDOW_MS,
    allowPrivateCallbacks: config.WEBHOOK_ALLOW_PRIVATE,
  });

  onShutdownSignal({
    logger,
    exitWithParent: process.env.SS_EXIT_WITH_PARENT === '1',
    shutdown: async (_signal, step) => {
      step('http server');
      await app.close();
      step('results listener');
      await listener.close();
      step('webhooks');
      await webhooks.close();
      step('expiry sweeper');
      await sweeper.close();
      step('results dispatcher');
      await dispatcher.close();
      delivery.disconnect();
      stopLanes();
      step('redis');
      await redis.quit().catch(() => redis.disconnect());
      step('telemetry');
      await telemetryHandle().shutdown();
    },
  });

  await app.listen({ port: config.PORT, host: config.HOST });
  const { port } = app.server.address() as AddressInfo;
  logListening(logger, { url: `http://${config.HOST}:${port}`, partition: keys.partition, prefix: keys.prefix });
  void warnIfOpen(tenants, logger, config.AUTH_REQUIRED);
}

/** Open mode is for local runs: say so loudly once Redis can tell. */
async function warnIfOpen(tenants: TenantDirectory, logger: Logger, authRequired: boolean): Promise<void> {
  for (let i = 0; i < 600; i++) {
    try {
      const mode = await tenants.accessMode();
      if (mode === 'open') {
        logger.warn('no tenant is configured: the API is OPEN and every request is tenant "default". Add one with `ss-tenants add <id>` (or TENANTS_FILE) before exposing this service; AUTH_REQUIRED=true refuses requests instead');
      } else {
        logger.info({ authRequired }, 'tenants configured: API keys required');
      }
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`producer: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
