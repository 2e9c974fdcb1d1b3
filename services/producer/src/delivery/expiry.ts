/**
 * The expiry sweeper: ends tasks that nobody polls. Every open task sits in its
 * tenant's `open:<tenant>` set scored by deadline + grace (submitTask.lua), so the
 * overdue ones are a range query away. Every `everyMs` the sweeper takes up to
 * `batch` overdue members per known tenant and runs `expireTask.lua` on each: a task
 * still without an outcome fails with ERROR_CAPTCHA_UNSOLVABLE (its result then flows
 * to long-polls, SSE and webhooks like any other); either way the member is removed.
 *
 * The read path (task-reader.ts) does the same for tasks that are polled, so this loop
 * only matters for tasks with a webhook or SSE consumer and no live worker. Several
 * producers may sweep at once: expireTask is atomic and idempotent. Errors are logged
 * and the loop goes on.
 *
 * Known tenants: `default`, the static ones, and those in the `tenants` hash. A tenant
 * removed from both keeps its open set until the set's TTL (1 day) — its keys are gone,
 * so nobody is waiting on those tasks.
 */
import type { Redis } from 'ioredis';
import type { Keyspace, Transitions } from '@solvestream/contracts';
import type { Logger } from '@solvestream/core';
import { DEFAULT_TENANT } from '../tenants';

export interface ExpirySweeperOptions {
  redis: Redis;
  keys: Keyspace;
  transitions: Transitions;
  logger: Logger;
  /** Tenant ids from static configuration. */
  staticTenants?: Iterable<string>;
  graceMs: number;
  clock?: () => number;
  /** Default 5,000 ms. */
  everyMs?: number;
  /** Most tasks expired per tenant per pass. Default 200. */
  batch?: number;
}

export class ExpirySweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  readonly stats = { expired: 0, released: 0 };

  constructor(private readonly o: ExpirySweeperOptions) {}

  start(): this {
    this.schedule(this.o.everyMs ?? 5_000);
    return this;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.sweep()
        .then(() => undefined)
        .catch((err: unknown) => this.o.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'expiry sweep failed'))
        .finally(() => this.schedule(this.o.everyMs ?? 5_000));
    }, ms);
  }

  /** One pass; returns how many tasks it expired. Exposed for tests. */
  async sweep(): Promise<number> {
    const { redis, keys, transitions } = this.o;
    const now = (this.o.clock ?? Date.now)();
    const tenants = new Set<string>([DEFAULT_TENANT, ...(this.o.staticTenants ?? []), ...(await redis.hkeys(keys.tenants))]);
    let expired = 0;
    for (const tenant of tenants) {
      const due = await redis.zrangebyscore(keys.openTasks(tenant), '-inf', now, 'LIMIT', 0, this.o.batch ?? 200);
      for (const taskId of due) {
        const r = await transitions.expire({ taskId, graceMs: this.o.graceMs, now });
        if (r.kind === 'not-due') continue; // a deadline moved (never, today): keep it
        if (r.kind === 'done') expired++;
        await redis.zrem(keys.openTasks(tenant), taskId);
        this.stats.released++;
      }
    }
    this.stats.expired += expired;
    if (expired > 0) this.o.logger.info({ expired }, 'expired overdue tasks nobody had ended');
    return expired;
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
