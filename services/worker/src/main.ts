/**
 * Worker process entry: parse env, connect, start the loop, handle signals.
 */
import './telemetry';
import { hostname } from 'node:os';
import { ConfigError, createLogger, createRedis, instanceId, onShutdownSignal, withTimeout } from '@solvestream/core';
import { fallbackProviders, parseWorkerEnv, primaryProvider, routingOptions } from './config';
import { buildWorker } from './app';
import { keyspace, WORKERS_GROUP } from '@solvestream/contracts';
import { startOpsServer, telemetryHandle, untracedCommands } from '@solvestream/telemetry';
import { createWorkerMetrics } from './metrics';
import { ReportForwarder } from './reports';
import { RuntimeConfigWatcher } from './runtime-config';
import type { Worker } from './worker';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const VERSION = (require('../../package.json') as { version: string }).version;

async function main(): Promise<void> {
  let e;
  try {
    e = parseWorkerEnv();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`worker: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const consumer = e.WORKER_ID ?? instanceId('worker', hostname());
  const logger = createLogger({ service: 'worker', level: e.LOG_LEVEL, base: { consumer } });
  const onError = (err: Error): void => logger.warn({ err: err.message }, 'redis connection error');
  // Its script calls carry many tasks' transitions at once (WriteBatch), so they cannot be
  // told apart by task in a trace (untracedCommands).
  const redis = untracedCommands(createRedis({ url: e.REDIS_URL, name: consumer, role: 'worker', onError }));
  const blockingRedis = createRedis({ url: e.REDIS_URL, name: `${consumer}:read`, role: 'blocking', blockingTimeoutMs: e.BLOCK_MS + 5000, onError });
  const provider = primaryProvider(e);
  const fallbacks = fallbackProviders(e);
  const built: { worker?: Worker; router?: { health(): { name: string; eligible: boolean; breaker: { state: string } }[] } } = {};
  const keys = keyspace({ prefix: e.KEY_PREFIX, partition: e.PARTITION });
  const metrics = createWorkerMetrics({ instance: consumer, redis, keys, worker: () => built.worker, providers: () => built.router?.health() ?? [] });
  const { worker, router } = buildWorker({
    metrics, traceParentMode: e.TRACE_PARENT_MODE,
    redis, blockingRedis, logger, consumer, provider, fallbacks, routing: routingOptions(e),
    keyPrefix: e.KEY_PREFIX, partition: e.PARTITION, concurrency: e.WORKER_CONCURRENCY, blockMs: e.BLOCK_MS,
    leaseMs: e.LEASE_MS, maxFailures: e.MAX_FAILURES, heartbeatMs: e.HEARTBEAT_MS, checkpointCheckMs: e.CHECKPOINT_CHECK_MS, version: VERSION,
    pollIntervalMs: e.POLL_INTERVAL_MS, pollFirstDelayScale: e.POLL_FIRST_DELAY_SCALE,
    resultTtlSeconds: e.RESULT_TTL_SECONDS, eventsMaxLen: e.EVENTS_MAXLEN, resultsMaxLen: e.RESULTS_MAXLEN,
  });
  built.worker = worker;
  built.router = router;
  const ops = await startOpsServer({
    port: e.OPS_PORT, host: e.OPS_HOST, registry: metrics.registry,
    live: () => {
      const age = Date.now() - worker.lastLoopAt;
      return { ok: worker.stats.state !== 'running' || age < e.BLOCK_MS * 3 + 10_000, detail: { service: 'worker', consumer, stats: worker.stats, loopAgeMs: age, providers: router.health() } };
    },
    ready: async () => {
      if (worker.stats.state !== 'running') throw new Error(`worker is ${worker.stats.state}`);
      if (redis.status !== 'ready') throw new Error(`redis is ${redis.status}`);
      await withTimeout(redis.ping(), 1000, 'redis');
      for (const lane of keys.lanes) {
        const groups = (await withTimeout(redis.xinfo('GROUPS', lane), 1000, 'redis')) as unknown[][];
        if (!groups.some((g) => g[1] === WORKERS_GROUP)) throw new Error(`group ${WORKERS_GROUP} missing on ${lane}`);
      }
    },
  });
  const runtimeConfig = new RuntimeConfigWatcher({ redis, keys, logger: logger.child({ component: 'config' }), router, worker, intervalMs: e.CONFIG_POLL_MS });
  const reportsRedis = createRedis({ url: e.REDIS_URL, name: `${consumer}:reports`, role: 'blocking', blockingTimeoutMs: e.BLOCK_MS + 5000, onError });
  const reports = new ReportForwarder({ redis, blockingRedis: reportsRedis, keys, router, logger: logger.child({ component: 'reports' }), consumer, blockMs: e.BLOCK_MS });
  onShutdownSignal({
    logger,
    forceAfterMs: e.DRAIN_GRACE_MS + 15_000,
    exitWithParent: process.env.SS_EXIT_WITH_PARENT === '1',
    shutdown: async () => {
      runtimeConfig.close();
      reportsRedis.disconnect();
      await reports.close();
      await worker.close(e.DRAIN_GRACE_MS);
      router.close();
      logger.info({ stats: worker.stats }, 'worker drained');
      await ops.close();
      await redis.quit().catch(() => redis.disconnect());
      blockingRedis.disconnect();
      await telemetryHandle().shutdown();
    },
  });
  // The config in force first: no task is submitted with a key it already replaced.
  await runtimeConfig.start();
  await worker.start();
  reports.start();
  router.start();
  logger.info({ provider: provider.name, fallbacks: fallbacks.map((f) => f.name), concurrency: worker.maxConcurrency, configVersion: runtimeConfig.version, ops: ops.url }, 'worker ready');
}

main().catch((err: unknown) => {
  process.stderr.write(`worker: fatal: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
