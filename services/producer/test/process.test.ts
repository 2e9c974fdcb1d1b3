/**
 * The producer as a real process (dist/src/main.js): env parsing, the listening line,
 * a submit over real HTTP, and SIGTERM releasing a long-poll and exiting 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Redis from 'ioredis';
import { keyspace, readTask } from '@solvestream/contracts';
import { freePort, sleep, spawnService, startRedis, waitFor } from '@solvestream/testkit';
import { VALID_PARAMS } from './harness';

const entry = join(__dirname, '..', 'src', 'main.js');
const keys = keyspace({ prefix: 'proc', partition: 'p0' });

test('main.js: listens, accepts a task over HTTP, SIGTERM releases the long-poll and exits 0', async () => {
  const server = await startRedis();
  const redis = new Redis(server.url);
  const port = await freePort();
  const svc = spawnService({
    entry,
    name: 'producer',
    env: { REDIS_URL: server.url, PORT: String(port), HOST: '127.0.0.1', KEY_PREFIX: 'proc', LOG_LEVEL: 'info' },
  });
  try {
    const line = await svc.waitForLine('"msg":"listening"');
    assert.ok(line.includes(`"url":"http://127.0.0.1:${port}"`), line);
    const base = `http://127.0.0.1:${port}`;

    const res = await fetch(`${base}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'recaptcha_v2', params: VALID_PARAMS.recaptcha_v2, priority: 'high' }),
    });
    assert.equal(res.status, 202);
    const body = (await res.json()) as { id: string; status: string };
    assert.equal(res.headers.get('location'), `/v1/tasks/${body.id}`);
    assert.equal(body.status, 'queued');
    assert.equal((await readTask(redis, keys, body.id))?.status, 'queued');
    assert.equal(await redis.xlen(keys.lane('high')), 1);
    await waitFor('lanes have the workers group', async () => ((await redis.xinfo('GROUPS', keys.lane('low'))) as unknown[]).length === 1);
    assert.equal((await fetch(`${base}/health/ready`)).status, 200);

    const started = Date.now();
    const poll = fetch(`${base}/v1/tasks/${body.id}?wait=30`);
    await sleep(300);
    svc.signal('SIGTERM');
    const polled = await poll;
    assert.equal(polled.status, 200);
    assert.equal(((await polled.json()) as { status: string }).status, 'queued', 'released with the current state');
    const exit = await svc.exited();
    assert.deepEqual(exit, { code: 0, signal: null }, `the producer's last lines:\n${svc.lines.slice(-8).join('\n')}`);
    assert.ok(Date.now() - started < 10_000, 'drained promptly');
    assert.ok(svc.lines.some((l) => l.includes('"msg":"stopped"')));
  } finally {
    await svc.stop(2_000);
    redis.disconnect();
    await server.stop();
  }
});

test('main.js: starts while Redis is down (not ready), becomes ready when it appears', async () => {
  const redisPort = await freePort();
  const port = await freePort();
  const svc = spawnService({
    entry,
    name: 'producer-early',
    env: { REDIS_URL: `redis://127.0.0.1:${redisPort}`, PORT: String(port), KEY_PREFIX: 'proc' },
  });
  let server;
  try {
    await svc.waitForLine('"msg":"listening"');
    const base = `http://127.0.0.1:${port}`;
    const health = await fetch(`${base}/health`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { redis: string }).redis, 'down');
    assert.equal((await fetch(`${base}/readyz`)).status, 503);

    server = await startRedis({ port: redisPort });
    await waitFor('ready once Redis is up', async () => (await fetch(`${base}/readyz`)).status === 200, { timeoutMs: 15_000 });
    const res = await fetch(`${base}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'turnstile', params: VALID_PARAMS.turnstile }),
    });
    assert.equal(res.status, 202);
    svc.signal('SIGTERM');
    assert.equal((await svc.exited()).code, 0);
  } finally {
    await svc.stop(2_000);
    await server?.stop();
  }
});

test('main.js: a bad variable stops start-up with a message naming it', async () => {
  const svc = spawnService({ entry, name: 'producer-bad-env', env: { PORT: 'eighty', MAX_WAIT_SECONDS: '-3' } });
  const exit = await svc.exited();
  assert.equal(exit.code, 1);
  const out = svc.lines.join('\n');
  assert.match(out, /PORT: must be an integer/);
  assert.match(out, /MAX_WAIT_SECONDS: must be an integer/);
});
