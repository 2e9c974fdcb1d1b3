/**
 * Keeps the task lanes usable: creates the `workers` consumer group on every lane
 * (`ensureWorkerGroups`, MKSTREAM, idempotent) when the connection first becomes ready
 * and again after every reconnect, because a Redis that came back empty (no AOF, a
 * wipe) has lost its groups. Workers would otherwise read NOGROUP until someone noticed.
 * Failures are logged and retried at the next reconnect; readiness (/health/ready)
 * reports and heals a missing group in between.
 */
import type { Redis } from 'ioredis';
import { ensureWorkerGroups, type Keyspace } from '@solvestream/contracts';
import type { Logger } from '@solvestream/core';

/** Starts watching `redis`; returns a function that stops it. */
export function keepLanesReady(redis: Redis, keys: Keyspace, logger: Logger): () => void {
  const ensure = (): void => {
    ensureWorkerGroups(redis, keys).then(
      () => logger.debug({ lanes: keys.lanes.length }, 'task lanes and workers group ready'),
      (err: unknown) => logger.warn({ err }, 'could not create the workers group on the task lanes; will retry on reconnect'),
    );
  };
  redis.on('ready', ensure);
  if (redis.status === 'ready') ensure();
  return () => {
    redis.off('ready', ensure);
  };
}
