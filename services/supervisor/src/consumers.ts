/**
 * Removes consumers of dead workers from the `workers` group once their pending list is
 * empty and they have been idle for `idleMs`. Removing a live consumer with nothing
 * pending is harmless (XREADGROUP recreates it), so the rule needs no liveness oracle.
 *
 * XINFO only nominates: the delete re-checks the pending list in the same script
 * (`remove`, Transitions.removeConsumer), because a worker waking from a freeze may read
 * entries between the two, and DELCONSUMER would drop them from the pending list.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '@solvestream/core';
import { WORKERS_GROUP, type Keyspace } from '@solvestream/contracts';

export async function removeIdleConsumers(
  redis: Redis, keys: Keyspace, idleMs: number, logger: Logger, keep: string,
  remove: (lane: string, consumer: string) => Promise<boolean>,
): Promise<number> {
  let removed = 0;
  for (const lane of keys.lanes) {
    let rows: unknown[];
    try {
      rows = (await redis.xinfo('CONSUMERS', lane, WORKERS_GROUP)) as unknown[];
    } catch {
      continue; // lane or group missing: nothing to clean
    }
    for (const row of rows as (string | number)[][]) {
      const info: Record<string, string | number> = {};
      for (let i = 0; i + 1 < row.length; i += 2) info[String(row[i])] = row[i + 1] as string | number;
      const name = String(info.name);
      if (name === keep || Number(info.pending) !== 0 || Number(info.idle) < idleMs) continue;
      if (await remove(lane, name)) removed++;
    }
  }
  if (removed) logger.info({ removed }, 'removed idle consumers with empty pending lists');
  return removed;
}
