/**
 * The end of the reclaim-hold story, shared by the requeue and Redis-crash tests: the
 * frozen worker w1 wakes, its checkpoint is refused as stale, its keeper writes the
 * provider id it paid for onto the task; the held task is promoted when due, and its
 * next delivery (w2) polls that id instead of paying again.
 */
import assert from 'node:assert/strict';
import type Redis from 'ioredis';
import { decodeTaskEntry, flattenReadReply, WORKERS_GROUP, type Keyspace, type Transitions } from '../src';

export async function wakeAndRedeliver(redis: Redis, ks: Keyspace, tr: Transitions, taskId: string, dueAt: number): Promise<void> {
  const cp = { taskId, provider: 'sim', providerTaskId: '777', attempt: 1, consumer: 'w1' };
  assert.equal(await tr.checkpoint({ ...cp, now: 20 }), 'stale');
  assert.deepEqual(await tr.reassertCheckpoints([{ ...cp, now: 21 }]), ['recorded']);
  assert.equal(await tr.promote(taskId, 'high', dueAt), 'promoted');
  const [got] = flattenReadReply(await redis.xreadgroup('GROUP', WORKERS_GROUP, 'w2', 'COUNT', 1, 'STREAMS', ks.lane('high'), '>'));
  assert.ok(got?.fields);
  const d = decodeTaskEntry(got.fields);
  assert.ok(d.ok);
  assert.equal(d.value.attempt, 2);
  assert.deepEqual(await tr.claim({ entry: d.value, entryId: got.id, consumer: 'w2', now: dueAt + 10 }),
    { proceed: true, checkpoint: { provider: 'sim', providerTaskId: '777' } }, 'the next delivery polls the id w1 paid for');
}
