/**
 * The results dispatcher's read pacing against a real Redis: a trickle of results is
 * handled in a few batches (it lingers after a short batch), a backlog is read without
 * lingering, and every result is handled once either way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useRedis, waitFor } from '@solvestream/testkit';
import { createLogger, createRedis } from '@solvestream/core';
import { encodeResultEntry, flattenReadReply, keyspace, RESULTS_GROUP } from '@solvestream/contracts';
import { ResultsDispatcher } from '../src/delivery/dispatcher';

const fx = useRedis();
const logger = createLogger({ service: 'dispatcher-test', level: 'silent' });

const addResult = (prefix: string, i: number): Promise<unknown> => fx.redis.xadd(keyspace({ prefix }).results, '*', ...encodeResultEntry({
  taskId: `t${i}`, outcome: 'solved', tenant: 'acme', type: 'turnstile', attempt: 1, completedAt: Date.now(), solution: { token: 'tok' }, trace: {},
}));

/** XREADGROUP calls Redis has served so far. */
async function reads(): Promise<number> {
  return Number(/cmdstat_xreadgroup:calls=(\d+)/.exec(await fx.redis.info('commandstats'))?.[1] ?? 0);
}

function dispatcher(prefix: string, o: { lingerMs: number; count?: number; claimIdleMs?: number; claimEveryMs?: number }): ResultsDispatcher {
  return new ResultsDispatcher({
    redis: createRedis({ url: fx.server.url, name: `dispatch-${prefix}`, role: 'blocking' }), keys: keyspace({ prefix }), logger,
    consumer: 'p1', blockMs: 1_000, ...o,
  }).start();
}

test('a trickle of results is handled in a few batches when lingering, one read per result without', async () => {
  const counted = async (prefix: string, lingerMs: number): Promise<number> => {
    const d = dispatcher(prefix, { lingerMs });
    await waitFor('the dispatcher blocks on its first read', async () => (await reads()) > 0 && d.stats.state === 'running');
    const before = await reads();
    for (let i = 0; i < 20; i++) {
      await addResult(prefix, i);
      await new Promise((r) => setTimeout(r, 25));
    }
    await waitFor('all 20 counted', async () => (await fx.redis.hget(keyspace({ prefix }).stats, 'solved')) === '20', { timeoutMs: 10_000 });
    const n = (await reads()) - before;
    await d.close();
    assert.equal(d.stats.handled, 20);
    return n;
  };
  const lingering = await counted('linger', 1_000);
  const eager = await counted('eager', 0);
  // 20 results 25 ms apart (≥ 500 ms): lingering 1 s takes them in 2-3 reads; without, each
  // wakes a read of its own (handling one takes ~1 ms; 8 leaves room for a busy machine).
  assert.ok(lingering <= 4, `lingering: ${lingering} reads for 20 results`);
  assert.ok(eager >= 8, `without lingering: ${eager} reads for 20 results`);
});

test('a backlog is read batch after batch without lingering (a full batch means more are waiting)', async () => {
  for (let i = 0; i < 23; i++) await addResult('backlog', i);
  // count 5: four full batches, then a short one (3). A linger after a full batch would take minutes.
  const d = dispatcher('backlog', { lingerMs: 120_000, count: 5 });
  await waitFor('all 23 counted', async () => (await fx.redis.hget(keyspace({ prefix: 'backlog' }).stats, 'solved')) === '23', { timeoutMs: 10_000 });
  assert.equal(d.stats.handled, 23);
  await d.close(); // a lingering dispatcher still closes at once
});

test('an instance frozen with a batch it read counts nothing twice: the batch is taken over, and its late dispatch finds it handled', async () => {
  const prefix = 'frz';
  const ks = keyspace({ prefix });
  await fx.redis.xgroup('CREATE', ks.results, RESULTS_GROUP, '0', 'MKSTREAM');
  await fx.redis.hset(ks.task('t0'), 'callbackUrl', 'https://hooks.example/x');
  for (let i = 0; i < 3; i++) await addResult(prefix, i);
  // Instance "frozen" reads the batch, then stalls before handling it.
  const stalled = flattenReadReply(await fx.redis.xreadgroup('GROUP', RESULTS_GROUP, 'frozen', 'COUNT', 10, 'STREAMS', ks.results, '>'));
  assert.equal(stalled.length, 3);

  const live = dispatcher(prefix, { lingerMs: 0, claimIdleMs: 50, claimEveryMs: 0 });
  try {
    await waitFor('the live instance took the batch over', () => live.stats.handled === 3);
    assert.deepEqual(await fx.redis.hgetall(ks.stats), { solved: '3', 't:acme:solved': '3' });
    assert.deepEqual(await fx.redis.zrangebyscore(ks.webhooks, '-inf', '+inf'), ['t0']);
    await fx.redis.zrem(ks.webhooks, 't0'); // the webhook sender delivered it

    // The frozen instance wakes and dispatches what it read.
    const late = new ResultsDispatcher({
      redis: createRedis({ url: fx.server.url, name: 'dispatch-late', role: 'blocking' }), keys: ks, logger, consumer: 'frozen',
    });
    try {
      await late.handle(stalled);
    } finally {
      await late.close();
    }
    assert.deepEqual(await fx.redis.hgetall(ks.stats), { solved: '3', 't:acme:solved': '3' }, 'counted once');
    assert.deepEqual(await fx.redis.zrangebyscore(ks.webhooks, '-inf', '+inf'), [], 'no second webhook');
    assert.equal(late.stats.handled, 0);
  } finally {
    await live.close();
  }
});
