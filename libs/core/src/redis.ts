/**
 * ioredis client factory with the settings a queue needs to survive Redis restarts.
 *
 * - Reconnect forever with capped exponential backoff (50 ms → 2 s).
 * - `role: 'worker'`: commands wait for Redis to come back (maxRetriesPerRequest null),
 *   because a worker has nothing better to do than finish its transition.
 * - `role: 'api'`: commands fail after a few retries and are not queued while
 *   disconnected, so an HTTP request answers 503 instead of hanging.
 * - `role: 'blocking'`: a dedicated connection for XREAD/XREADGROUP BLOCK, with a
 *   client-side deadline (`blockingTimeout`) so a dead TCP connection can never hang
 *   the read loop (BullMQ #1656, #3185: workers silently stopping after a restart).
 * - `autoPipelining` (opt-in, `worker` role only): ioredis `enableAutoPipelining`, so
 *   the commands issued in one event-loop tick leave in one write and are read back in
 *   one go. The solving worker's command connection uses it: with hundreds of tasks in
 *   flight it issues many independent commands per tick, and batching them cut CPU per
 *   task by ~11% in the worker and ~30% in Redis (test/bench/pipeline.ts, issue 8).
 *   Order per connection is unchanged. Opt-in because it changes close semantics: a
 *   command issued in the same tick as `quit()` fails, and the producer's shutdown
 *   hung with it on; with the offline queue off (`api`) ioredis 6 even throws such a
 *   command from a timer (uncaught) instead of rejecting it.
 */
import Redis, { type RedisOptions } from 'ioredis';

export type RedisRole = 'worker' | 'api' | 'blocking';

export interface RedisFactoryOptions {
  url: string;
  /** Shown in CLIENT LIST (`CLIENT SETNAME`). */
  name: string;
  role: RedisRole;
  /** Upper bound on how long a blocking read may stay silent, ms. Default 10,000. */
  blockingTimeoutMs?: number;
  /** Called on connection errors (already rate-limited by reconnect backoff). */
  onError?: (err: Error) => void;
  /** Batch the commands of one tick into one write (role `worker` only; see above). Default false. */
  autoPipelining?: boolean;
}

export function retryDelay(times: number): number {
  return Math.min(50 * 2 ** Math.min(times, 6), 2000);
}

export function createRedis(o: RedisFactoryOptions): Redis {
  const common: RedisOptions = {
    connectionName: o.name.replace(/[^A-Za-z0-9_.:-]/g, '_'),
    retryStrategy: retryDelay,
    connectTimeout: 5000,
    keepAlive: 10_000,
    // A failover replica answers READONLY: reconnect so we find the new primary.
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
  };
  const byRole: Record<RedisRole, RedisOptions> = {
    worker: { maxRetriesPerRequest: null, enableOfflineQueue: true, enableAutoPipelining: o.autoPipelining === true },
    api: { maxRetriesPerRequest: 2, enableOfflineQueue: false, commandTimeout: 5000 },
    blocking: { maxRetriesPerRequest: null, enableOfflineQueue: true, blockingTimeout: o.blockingTimeoutMs ?? 10_000 },
  };
  const client = new Redis(o.url, { ...common, ...byRole[o.role] });
  client.on('error', (err: Error) => o.onError?.(err));
  return client;
}

/**
 * Rejects when `p` takes longer than `ms` (probes must answer even when a `worker`-role
 * connection would wait for Redis forever).
 */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e: unknown) => { clearTimeout(t); reject(e); });
  });
}
