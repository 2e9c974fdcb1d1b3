/**
 * Supervisor process entry: parse env, connect, start the loop and the ops server,
 * handle signals. Any number of replicas may run.
 */
import './telemetry';
import { hostname } from 'node:os';
import { keyspace, Transitions } from '@solvestream/contracts';
import { ConfigError, createLogger, createRedis, instanceId, logListening, onShutdownSignal, parseEnv } from '@solvestream/core';
import { SUPERVISOR_ENV } from './config';
import { Supervisor } from './supervisor';
import { DEFAULT_THRESHOLDS, ModeController } from './mode';
import { buildOpsServer } from './ops-server';
import { createSupervisorMetrics } from './metrics';
import { telemetryHandle } from '@solvestream/telemetry';

async function main(): Promise<void> {
  let e;
  try {
    e = parseEnv(SUPERVISOR_ENV);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`supervisor: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const instance = instanceId('supervisor', hostname());
  const logger = createLogger({ service: 'supervisor', level: e.LOG_LEVEL, base: { instance } });
  let lastError = 0;
  const redis = createRedis({
    url: e.REDIS_URL, name: instance, role: 'worker',
    onError: (err) => {
      if (Date.now() - lastError > 10_000) logger.warn({ err: err.message }, 'redis connection error');
      lastError = Date.now();
    },
  });
  const keys = keyspace({ prefix: e.KEY_PREFIX, partition: e.PARTITION });
  const transitions = new Transitions(redis, keys);
  const mode = e.MODE_CONTROL === 'auto'
    ? new ModeController({
      redis, keys, logger, instance,
      thresholds: {
        ...DEFAULT_THRESHOLDS,
        enterDegraded: { errorRate: e.MODE_DEGRADED_ERROR_RATE, queueDepth: e.MODE_DEGRADED_QUEUE_DEPTH },
        exitDegraded: { errorRate: e.MODE_DEGRADED_ERROR_RATE * 0.6, queueDepth: Math.floor(e.MODE_DEGRADED_QUEUE_DEPTH * 0.6) },
        enterEmergency: { errorRate: e.MODE_EMERGENCY_ERROR_RATE, queueDepth: e.MODE_EMERGENCY_QUEUE_DEPTH },
        exitEmergency: { errorRate: e.MODE_EMERGENCY_ERROR_RATE * 0.78, queueDepth: Math.floor(e.MODE_EMERGENCY_QUEUE_DEPTH * 0.78) },
        enterAfterMs: e.MODE_ENTER_AFTER_MS,
        exitAfterMs: e.MODE_EXIT_AFTER_MS,
      },
    })
    : undefined;
  const supervisor = new Supervisor({
    redis, keys, transitions, logger, consumer: instance, leaseMs: e.LEASE_MS, maxFailures: e.MAX_FAILURES,
    intervalMs: e.SUPERVISOR_INTERVAL_MS, reclaimHoldMs: e.RECLAIM_HOLD_MS, consumerSweepMs: e.CONSUMER_SWEEP_MS, mode,
  });
  const registry = createSupervisorMetrics({ instance, redis, keys, supervisor: () => supervisor });
  const ops = buildOpsServer({ redis, keys, transitions, supervisor, logger, instance, adminToken: e.ADMIN_TOKEN, registry });
  onShutdownSignal({
    logger,
    exitWithParent: process.env.SS_EXIT_WITH_PARENT === '1',
    shutdown: async () => {
      await ops.close();
      await supervisor.close();
      await redis.quit().catch(() => redis.disconnect());
      await telemetryHandle().shutdown();
    },
  });
  await supervisor.start();
  const url = await ops.listen({ port: e.PORT, host: e.HOST });
  logListening(logger, { url, leaseMs: e.LEASE_MS, intervalMs: e.SUPERVISOR_INTERVAL_MS });
}

main().catch((err: unknown) => {
  process.stderr.write(`supervisor: fatal: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
