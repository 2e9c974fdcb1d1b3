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
 * - No ioredis auto-pipelining (`enableAutoPipelining`). The worker's command connection
 *   had it until 2026-12-07: then it cut worker CPU per task by ≈ 11 % and Redis's by
 *   ≈ 30 %, when every task made its own script calls. The transitions of one turn now
 *   share one script call (WriteBatch), and auto-pipelining no longer paid: it allows one
 *   pipeline in flight per connection (the next tick's commands wait a round trip), and
 *   it kept garbage alive through young-generation GCs (an ioredis-only loop of script
 *   calls: 3 MB surviving each scavenge with it, 0.1 MB without). Turned off, the worker
 *   at 1,000 tasks/s keeps 1.0–1.1 MB per scavenge alive instead of 1.5–1.7 (3 runs
 *   each), the 5,000 slow tasks took 1.6–1.8 s of worker CPU instead of 1.8–2.3, bursts
 *   did not slow down (docs/benchmarks.md). It also changed close semantics (a command
 *   issued in the same tick as `quit()` failed).
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
    worker: { maxRetriesPerRequest: null, enableOfflineQueue: true },
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
