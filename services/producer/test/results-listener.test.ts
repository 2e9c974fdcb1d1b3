import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { encodeResultEntry, keyspace, type ResultEntry } from '@solvestream/contracts';
import { createLogger, createRedis } from '@solvestream/core';
import { startRedis, waitFor, type RedisServer } from '@solvestream/testkit';
import { compareStreamIds, ResultsListener, type WakeReason } from '../src/results-listener';

const keys = keyspace({ prefix: 'lt', partition: 'p0' });
const logger = createLogger({ service: 'test', level: 'silent' });
let server: RedisServer;
let redis: Redis;
const listeners: ResultsListener[] = [];

before(async () => {
  server = await startRedis();
  redis = createRedis({ url: server.url, name: 'lt-writer', role: 'worker' });
});
after(async () => {
  await Promise.all(listeners.map((l) => l.close()));
  redis.disconnect();
  await server.stop();
});
beforeEach(async () => {
  await redis.flushall();
});

function listen(blockMs = 200): ResultsListener {
  const l = new ResultsListener({
    redis: createRedis({ url: server.url, name: 'lt-listener', role: 'blocking', blockingTimeoutMs: 1_000 }),
    keys,
    logger,
    blockMs,
    backoffMs: () => 50,
  }).start();
  listeners.push(l);
  return l;
}

const result = (taskId: string): ResultEntry => ({
  taskId, outcome: 'solved', tenant: 't', type: 'turnstile', attempt: 1, completedAt: 1, solution: { token: 'x' }, trace: {},
});
const publish = (taskId: string, id = '*'): Promise<string | null> => redis.xadd(keys.results, id, ...encodeResultEntry(result(taskId)));

/** The reason a watch fired, or 'pending' if it did not within `ms`. */
function within(p: Promise<WakeReason>, ms: number): Promise<WakeReason | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<'pending'>((resolve) => (timer = setTimeout(() => resolve('pending'), ms)));
  return Promise.race([p, pending]).finally(() => clearTimeout(timer));
}

const running = (l: ResultsListener): Promise<boolean> => waitFor('listener positioned', () => l.stats().lastId !== undefined);

test('compareStreamIds orders ids numerically', () => {
  assert.equal(compareStreamIds('2-0', '10-0'), -1);
  assert.equal(compareStreamIds('5-10', '5-9'), 1);
  assert.equal(compareStreamIds('0-0', '0-0'), 0);
});

test('wakes the watchers of a finished task, and only those', async () => {
  const l = listen();
  await running(l);
  const a1 = l.watch('A');
  const a2 = l.watch('A');
  const b = l.watch('B');
  assert.equal(l.stats().waiters, 3);
  await publish('A');
  assert.equal(await within(a1.woken, 2_000), 'result');
  assert.equal(await within(a2.woken, 100), 'result');
  assert.equal(await within(b.woken, 300), 'pending');
  b.cancel();
  b.cancel();
  assert.equal(l.stats().waiters, 0);
});

test('starts at the tail: results from before start-up wake nobody; `$` is resolved to a concrete id', async () => {
  await publish('OLD');
  const tail = await publish('OLD2');
  const l = listen();
  await running(l);
  assert.equal(l.stats().lastId, tail);
  const w = l.watch('OLD');
  assert.equal(await within(w.woken, 400), 'pending');
  await publish('OLD');
  assert.equal(await within(w.woken, 2_000), 'result');
});

test('an undecodable entry in results does not stop the loop', async () => {
  const l = listen();
  await running(l);
  const w = l.watch('C');
  await redis.xadd(keys.results, '*', 'garbage', '1');
  await redis.xadd(keys.results, '*', 'v', '9', 'task', 'C');
  assert.equal(await within(w.woken, 2_000), 'result', 'an entry that names a task wakes it even if it does not decode');
  const w2 = l.watch('D');
  await publish('D');
  assert.equal(await within(w2.woken, 2_000), 'result');
});

test('Redis restart: watchers are told to re-read; a stream that went backwards is followed', async () => {
  const l = listen();
  await running(l);
  // A last id far in the future: after a wipe, new ids are all below it.
  await publish('FUTURE', '9999999999999-0');
  await waitFor('listener saw the future id', () => l.stats().lastId === '9999999999999-0');
  const w = l.watch('E');
  await server.restart(); // no AOF: Redis comes back empty
  assert.equal(await within(w.woken, 10_000), 'recheck');
  await waitFor('listener followed the stream back', () => l.stats().lastId !== '9999999999999-0', { timeoutMs: 10_000 });
  const w2 = l.watch('E');
  await publish('E');
  assert.equal(await within(w2.woken, 5_000), 'result');
});

test('close(): wakes every watcher with closed, later watches resolve at once, safe twice', async () => {
  const l = listen(5_000);
  await running(l);
  const w = l.watch('F');
  const started = Date.now();
  await Promise.all([l.close(), l.close()]);
  assert.ok(Date.now() - started < 1_000, 'close does not wait out the BLOCK');
  assert.equal(await within(w.woken, 100), 'closed');
  assert.equal(await within(l.watch('G').woken, 100), 'closed');
  assert.equal(l.stats().state, 'stopped');
  assert.equal(l.stats().waiters, 0);
});
