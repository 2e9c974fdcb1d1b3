/**
 * End to end: producer, two workers and the provider simulator as real processes on
 * their own redis-server; 200 tasks of every type submitted over HTTP, 200 tokens back.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { startRedis, type RedisServer } from '@solvestream/testkit';
import { decodeResultEntry, keyspace } from '@solvestream/contracts';
import { awaitTask, makeTask, mapLimit, startSystem, submit, type System } from '../src';

let redis: RedisServer;
let system: System;

before(async () => {
  redis = await startRedis({ aof: true });
  system = await startSystem({ redisUrl: redis.url, workers: 2 });
});
after(async () => {
  await system?.stop();
  await redis?.stop();
});

test('200 tasks submitted over HTTP come back as 200 tokens, each exactly once', async () => {
  const N = 200;
  const ids = await mapLimit(Array.from({ length: N }, (_, i) => makeTask(i)), 50, (t) => submit(system.apiUrl, t));
  assert.equal(new Set(ids).size, N, 'every submit got its own id');

  const states = await mapLimit(ids, 200, (id) => awaitTask(system.apiUrl, id, 60_000));
  const solved = states.filter((s) => s.status === 'solved');
  const failed = states.filter((s) => s.status !== 'solved');
  assert.deepEqual(failed.map((f) => [f.id, f.status, f.error?.code]), [], 'no task failed');
  for (const [i, s] of states.entries()) {
    const answer = makeTask(i).type === 'image' ? s.solution?.text : s.solution?.token;
    assert.ok(answer && answer.length > 0, `task ${i} (${makeTask(i).type}) has its answer`);
  }

  const c = new Redis(redis.url);
  try {
    const ks = keyspace();
    const results = (await c.xrange(ks.results, '-', '+')) as [string, string[]][];
    const taskIds = results.map(([, f]) => {
      const d = decodeResultEntry(f);
      assert.ok(d.ok);
      return d.value.taskId;
    });
    const duplicates = taskIds.length - new Set(taskIds).size;
    const stats = (await (await fetch(`${system.simUrl}/admin/stats`)).json()) as { total: { submits: number; charges: number; polls: number } };
    const calls = stats.total.submits + stats.total.polls;
    console.log(`accepted=${N} answered=${solved.length} results=${results.length} duplicates=${duplicates} ` +
      `provider: submits=${stats.total.submits} charges=${stats.total.charges} polls=${stats.total.polls} calls/task=${(calls / N).toFixed(2)}`);
    assert.equal(stats.total.submits, N, 'one provider submit per task');
    assert.equal(stats.total.charges, N, 'each solve paid once');
    assert.equal(results.length, N, 'one results entry per task');
    assert.equal(duplicates, 0);
    for (const lane of ks.lanes) {
      const pending = (await c.xpending(lane, 'workers')) as [number];
      assert.equal(pending[0], 0, `${lane}: nothing left pending`);
    }
  } finally {
    c.disconnect();
  }
});
