import { after, before, beforeEach } from 'node:test';
import Redis from 'ioredis';
import { startRedis, type RedisServer, type StartRedisOptions } from './redis-server';

export interface RedisFixture {
  /** The private server (valid once `before` ran). */
  readonly server: RedisServer;
  /** A client on it. */
  readonly redis: Redis;
}

export interface UseRedisOptions extends StartRedisOptions {
  /** Runs once the client is connected (build what the tests use from it). */
  setup?: (redis: Redis, server: RedisServer) => void | Promise<void>;
  /** Runs after the FLUSHALL before each test (e.g. recreate consumer groups). */
  reset?: (redis: Redis) => void | Promise<void>;
}

/**
 * The setup most queue tests share, as node:test hooks: a private `redis-server` and a
 * client for the whole file, FLUSHALL (then `reset`) before each test, both stopped
 * after. Node 20 runs a file's top-level `before` hooks concurrently, so dependent
 * setup goes in `setup`/`reset`, not in hooks of its own.
 */
export function useRedis(options: UseRedisOptions = {}): RedisFixture {
  let server: RedisServer | undefined;
  let redis: Redis | undefined;
  before(async () => {
    server = await startRedis(options);
    redis = new Redis(server.url);
    await options.setup?.(redis, server);
  });
  after(async () => {
    redis?.disconnect();
    await server?.stop();
  });
  beforeEach(async () => {
    if (!redis) return;
    await redis.flushall();
    await options.reset?.(redis);
  });
  return {
    get server() {
      if (!server) throw new Error('useRedis: the server starts in before()');
      return server;
    },
    get redis() {
      if (!redis) throw new Error('useRedis: the client connects in before()');
      return redis;
    },
  };
}
