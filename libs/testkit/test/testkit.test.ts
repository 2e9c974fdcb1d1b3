import { test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { startRedis } from '../src';

test('startRedis: isolated server, AOF survives kill -9 and restart', async () => {
  const server = await startRedis({ aof: true });
  try {
    const c = new Redis(server.url);
    await c.set('k', 'v');
    await c.quit();
    await new Promise((r) => setTimeout(r, 1200)); // everysec fsync
    await server.kill('SIGKILL');
    await server.restart();
    const c2 = new Redis(server.url);
    assert.equal(await c2.get('k'), 'v');
    await c2.quit();
  } finally {
    await server.stop();
  }
});
