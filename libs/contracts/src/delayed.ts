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
  /** Removed from the set: the body was gone, or the task already had its outcome. */
  dropped: number;
  /** Bodies that do not decode or name no lane: moved to `dead-letter` by promoteTask. */
  poison: number;
  /** Calls that failed (Redis busy or away, a lost reply): left in the set for the next pass. */
  failed: number;
  firstError?: string;
}

/** Promotes up to `limit` retries due at `now`. */
export async function promoteDue(redis: Redis, keys: Keyspace, transitions: Transitions, now: number, limit = 200): Promise<PromoteReport> {
  const report: PromoteReport = { promoted: 0, dropped: 0, poison: 0, failed: 0 };
  const due = await redis.zrangebyscore(keys.delayed, '-inf', now, 'LIMIT', 0, limit);
  if (due.length === 0) return report;
  const bodies = await redis.hmget(keys.delayedEntries, ...due);
  for (const [i, taskId] of due.entries()) {
    let priority: Priority = 'normal';
    try {
      const fields = JSON.parse(bodies[i] ?? '[]') as string[];
      // Keys sit at even indexes: a value 'priority' (a tenant named so) is not the key.
      const at = fields.findIndex((f, j) => j % 2 === 0 && f === 'priority');
      const p = at >= 0 ? fields[at + 1] : undefined;
      if (p && (PRIORITIES as readonly string[]).includes(p)) priority = p as Priority;
    } catch {
      /* unreadable body: promoteTask dead-letters it */
    }
    try {
      const r = await transitions.promote(taskId, priority, now);
      if (r === 'promoted') report.promoted++;
      else if (r === 'dropped') report.dropped++;
      else if (r === 'dead-lettered') report.poison++;
    } catch (err) {
      // Left in the set for the next pass: a failed call (Redis busy, a lost reply) must
      // not drop a retry (it did until 2026-12-07). A poison body never gets here:
      // promoteTask dead-letters it in the same step.
      report.failed++;
      report.firstError ??= err instanceof Error ? err.message : String(err);
    }
  }
  return report;
}
