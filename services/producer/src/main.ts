/**
 * The producer process: the only place that reads the environment, creates the Redis
 * connections, installs signal handlers and listens.
 *
 * Connections: one `api` connection (requests fail fast → 503 while Redis is away)
 * and one `blocking` connection owned by the results listener.
 *
 * SIGTERM/SIGINT (onShutdownSignal): `app.close()` refuses new requests, releases the
 * long-polls with their current state and waits for in-flight requests; then Redis is
 * closed and the process exits 0. A second signal, or 30 s, forces exit 1.
 */
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import { keyspace, Transitions } from '@solvestream/contracts';
import { ConfigError, createLogger, createRedis, instanceId, onShutdownSignal, parseEnv, type Logger } from '@solvestream/core';
import { buildApp } from './app';
import { PRODUCER_ENV } from './config';
import { keepLanesReady } from './lanes';
import { ResultsListener } from './results-listener';

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

  const app = buildApp({
    redis,
    transitions,
    keys,
    logger,
    clock: Date.now,
    notifier: listener,
    maxWaitSeconds: config.MAX_WAIT_SECONDS,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    instance,
  });

  onShutdownSignal({
    logger,
    exitWithParent: process.env.SS_EXIT_WITH_PARENT === '1',
    shutdown: async () => {
      await app.close();
      await listener.close();
      stopLanes();
      await redis.quit().catch(() => redis.disconnect());
    },
  });

  await app.listen({ port: config.PORT, host: config.HOST });
  const { port } = app.server.address() as AddressInfo;
  logger.info({ url: `http://${config.HOST}:${port}`, partition: keys.partition, prefix: keys.prefix }, 'listening');
}

main().catch((err: unknown) => {
  process.stderr.write(`producer: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
