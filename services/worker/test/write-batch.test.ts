/**
 * WriteBatch against a real redis-server: the checkpoints and completes of one
 * event-loop turn go out in one script call, and each caller gets exactly what its own
 * call of the transition would have answered (an error only to its own caller).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type Redis from 'ioredis';
import {
  flattenReadReply, keyspace, readTask, WORKERS_GROUP, type Transitions,
  type CheckpointInput, type CompleteInput, type TaskEntry,
} from '@solvestream/contracts';
import { WriteBatch } from '@solvestream/core';
import { useWorkerRedis } from './helpers';

let redis: Redis;
const ks = keyspace({ prefix: 'wb' });
let tr: Transitions;

useWorkerRedis(ks, (client, transitions) => {
  redis = client;
  tr = transitions;
});

/** Script calls Redis has run so far (EVALSHA + EVAL). */
async function scriptCalls(): Promise<number> {
  const info = await redis.info('commandstats');
  return [...info.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
}

const entry = (taskId: string): TaskEntry => ({
  taskId, type: 'turnstile', params: { websiteURL: 'https://example.com', websiteKey: '0x4AAAAAAAB' },
  tenant: 'acme', priority: 'normal', attempt: 1, submittedAt: 1000, deadline: 999_999, trace: {},
});

test('one turn, one script call: 50 checkpoints then 50 completes, each caller answered for its own task, a bad one rejected alone', async () => {
  const ids = Array.from({ length: 50 }, (_, i) => `T${i}`);
  for (const id of ids) await tr.submit({ entry: entry(id), now: 1000 });
  const read = flattenReadReply(await redis.xreadgroup('GROUP', WORKERS_GROUP, 'w1', 'COUNT', 100, 'STREAMS', ks.lane('normal'), '>'));
  await tr.claimBatch({ consumer: 'w1', now: 1100, items: read.map((r, i) => ({ entry: entry(ids[i]!), entryId: r.id })) });

  const checkpoints = new WriteBatch((inputs: CheckpointInput[]) => tr.checkpointBatch(inputs));
  const cp = (taskId: string): CheckpointInput => ({ taskId, provider: 'sim', providerTaskId: `p-${taskId}`, attempt: 1, consumer: 'w1', now: 1200 });
  let before = await scriptCalls();
  const recorded = await Promise.allSettled([...ids.map((id) => checkpoints.run(cp(id))), checkpoints.run(cp('nope'))]);
  assert.equal(await scriptCalls() - before, 1, 'one script call for 51 checkpoints');
  assert.ok(recorded.slice(0, 50).every((r) => r.status === 'fulfilled' && r.value === 'recorded'));
  const bad = recorded[50];
  assert.ok(bad?.status === 'rejected' && /nope/.test(String(bad.reason)), 'only the unknown task is refused');
  assert.equal((await readTask(redis, ks, 'T7'))?.providerTaskId, 'p-T7');

  const completes = new WriteBatch((inputs: CompleteInput[]) => tr.completeBatch(inputs));
  const done = (i: number): CompleteInput => ({
    result: { taskId: ids[i]!, outcome: 'solved', tenant: 'acme', type: 'turnstile', attempt: 1, completedAt: 1300, solution: { token: `tok-${i}` }, trace: {} },
    priority: 'normal', entryId: read[i]!.id, consumer: 'w1', now: 1300,
  });
  before = await scriptCalls();
  const published = await Promise.all(ids.map((_, i) => completes.run(done(i))));
  assert.equal(await scriptCalls() - before, 1);
  assert.ok(published.every((p) => p.published));
  assert.equal(new Set(published.map((p) => (p.published ? p.resultId : ''))).size, 50, 'a result entry each');
  assert.equal(await redis.xlen(ks.results), 50);
  assert.equal((await redis.xpending(ks.lane('normal'), WORKERS_GROUP) as [number])[0], 0, 'every entry acked');

  // A second outcome in a later turn: its own call, answered as a duplicate.
  const again = await completes.run(done(3));
  assert.deepEqual(again, { published: false, status: 'solved' });
});
