/**
 * Promotion of due delayed retries (the supervisor runs this on a timer, so retries
 * never wait for new traffic). Safe to run from several processes at once: each task is
 * promoted by exactly one caller (promoteTask.lua).
 */
import type { Redis } from 'ioredis';
import { PRIORITIES, type Keyspace, type Priority } from './keys';
import type { Transitions } from './transitions';

export interface PromoteReport {
  promoted: number;
  dropped: number;
}

/** Promotes up to `limit` retries due at `now`. */
export async function promoteDue(redis: Redis, keys: Keyspace, transitions: Transitions, now: number, limit = 200): Promise<PromoteReport> {
  const report: PromoteReport = { promoted: 0, dropped: 0 };
  const due = await redis.zrangebyscore(keys.delayed, '-inf', now, 'LIMIT', 0, limit);
  if (due.length === 0) return report;
  const bodies = await redis.hmget(keys.delayedEntries, ...due);
  for (const [i, taskId] of due.entries()) {
    let priority: Priority = 'normal';
    try {
      const fields = JSON.parse(bodies[i] ?? '[]') as string[];
      const p = fields[fields.indexOf('priority') + 1];
      if (p && (PRIORITIES as readonly string[]).includes(p)) priority = p as Priority;
    } catch {
      /* unreadable body: promoteTask drops it (-2) or refuses the lane (-5) */
    }
    try {
      const r = await transitions.promote(taskId, priority, now);
      if (r === 'promoted') report.promoted++;
      else if (r === 'dropped') report.dropped++;
    } catch {
      report.dropped++;
      await redis.zrem(keys.delayed, taskId);
    }
  }
  return report;
}
