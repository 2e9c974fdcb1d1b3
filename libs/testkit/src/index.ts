/**
 * Test helpers shared by every package's tests. Nothing here is used in production.
 *
 * - `startRedis` runs a fresh `redis-server` on a free port in its own temp dir
 *   (AOF on request) so each test file is isolated and can kill and restart it.
 * - `freePort`, `waitFor` and `sleep` are the small utilities every test rewrites otherwise.
 * - `spawnService` starts a built service as a real child process and captures its logs.
 */
export { startRedis, type RedisServer, type StartRedisOptions } from './redis-server';
export { freePort, waitFor, sleep } from './util';
export { useRedis, type RedisFixture } from './fixture';
export { spawnService, type ServiceProcess, type SpawnServiceOptions } from './process';
