import { test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { useRedis } from '@solvestream/testkit';
import {
  decodeEventEntry, decodeResultEntry, decodeTaskEntry, ensureWorkerGroups, fieldsToObject, flattenReadReply,
  keyspace, readTask, Transitions, WORKERS_GROUP, type TaskEntry,
} from '../src';
import { wakeAndRedeliver } from './hold';

let redis: Redis;
const ks = keyspace({ prefix: 'rq' });
let tr: Transitions;
useRedis({
  setup: (client) => {
    redis = client;
    tr = new Transitions(redis, ks);
  },
  reset: async () => {
    await ensureWorkerGroups(redis, ks);
  },
});

const entry = (taskId: string): TaskEntry => ({
  taskId, type: 'recaptcha_v3', params: { websiteURL: 'https://x.example', websiteKey: 'k' }, tenant: 'acme',
  priority: 'high', attempt: 1, submittedAt: 1, deadline: 9_999_999_999_999, trace: { traceparent: '00-aa-bb-01' },
});

/** Submit, read as `consumer`, claim. Returns the delivered entry and its id. */
async function deliver(taskId: string, consumer = 'w1'): Promise<{ e: TaskEntry; id: string }> {
  await tr.submit({ entry: entry(taskId), now: 1 });
  return readAndClaim(consumer);
}
async function readAndClaim(consumer = 'w1'): Promise<{ e: TaskEntry; id: string }> {
  const [got] = flattenReadReply(await redis.xreadgroup('GROUP', WORKERS_GROUP, consumer, 'COUNT', 1, 'STREAMS', ks.lane('high'), '>'));
  assert.ok(got?.fields);
  const d = decodeTaskEntry(got.fields);
  assert.ok(d.ok);
  await tr.claim({ entry: d.value, entryId: got.id, consumer, now: 2 });
  return { e: d.value, id: got.id };
}
async function eventsOf(taskId: string): Promise<string[]> {
  const raw = (await redis.xrange(ks.events, '-', '+')) as [string, string[]][];
  return raw.map(([id, f]) => decodeEventEntry(id, f)).flatMap((d) => (d.ok && d.value.taskId === taskId ? [d.value.event] : []));
}
const base = { maxFailures: 3, now: 10, reason: 'test' };

test('reclaim: new entry with attempt+1 and the checkpoint; old entry acked and deleted', async () => {
  const { e, id } = await deliver('A');
  await tr.checkpoint({ taskId: 'A', provider: 'sim', providerTaskId: '555', attempt: 1, consumer: 'w1', now: 3 });
  // The supervisor took the entry over with XAUTOCLAIM.
  await redis.xclaim(ks.lane('high'), WORKERS_GROUP, 'sup', 0, id);
  const r = await tr.requeue({ ...base, entry: e, entryId: id, consumer: 'sup', mode: 'reclaim', reason: 'lease expired' });
  assert.equal(r.kind, 'requeued');
  const next = await readAndClaim('w2');
  assert.equal(next.e.attempt, 2);
  assert.deepEqual(next.e.checkpoint, { provider: 'sim', providerTaskId: '555', at: 3 });
  assert.deepEqual(next.e.trace, e.trace, 'trace context travels with the task');
  assert.equal(await redis.xlen(ks.lane('high')), 1, 'only the new entry remains');
  assert.deepEqual(await eventsOf('A'), ['submitted', 'claimed', 'provider-submitted', 'reclaimed', 'claimed']);
  // A woken-up stale worker cannot overwrite the live checkpoint.
  assert.equal(await tr.checkpoint({ taskId: 'A', provider: 'sim', providerTaskId: '999', attempt: 1, consumer: 'w1', now: 4 }), 'stale');
  assert.equal((await readTask(redis, ks, 'A'))?.providerTaskId, '555');
});

test('only the owner of a pending entry can requeue it; a second requeue is refused', async () => {
  const { e, id } = await deliver('B');
  assert.deepEqual(await tr.requeue({ ...base, entry: e, entryId: id, consumer: 'sup', mode: 'reclaim' }), { kind: 'not-owner' });
  await redis.xclaim(ks.lane('high'), WORKERS_GROUP, 'sup', 0, id);
  assert.equal((await tr.requeue({ ...base, entry: e, entryId: id, consumer: 'sup', mode: 'reclaim' })).kind, 'requeued');
  assert.deepEqual(await tr.requeue({ ...base, entry: e, entryId: id, consumer: 'sup', mode: 'reclaim' }), { kind: 'not-pending' });
  assert.equal(await redis.xlen(ks.lane('high')), 1, 'no double requeue');
});

test('retry goes through the delayed set; promote brings it back only when due, once', async () => {
  const { e, id } = await deliver('C');
  const r = await tr.requeue({ ...base, entry: e, entryId: id, consumer: 'w1', mode: 'retry', dueAt: 1000, reason: 'ERROR_NO_SLOT_AVAILABLE' });
  assert.deepEqual(r, { kind: 'delayed' });
  assert.equal(await redis.xlen(ks.lane('high')), 0);
  assert.equal(await redis.zscore(ks.delayed, 'C'), '1000');
  assert.equal((await readTask(redis, ks, 'C'))?.status, 'queued');
  assert.equal(await tr.promote('C', 'high', 999), 'not-due');
  const both = await Promise.all([tr.promote('C', 'high', 1000), tr.promote('C', 'high', 1001)]);
  assert.deepEqual(both.sort(), ['not-due', 'promoted'], 'two supervisors racing promote it once');
  const next = await readAndClaim('w2');
  assert.equal(next.e.attempt, 2);
  assert.equal(await redis.zcard(ks.delayed), 0);
  assert.equal(await redis.hlen(ks.delayedEntries), 0);
  assert.deepEqual(await eventsOf('C'), ['submitted', 'claimed', 'retried', 'promoted', 'claimed']);
});

test('hand-back is not a failure; too many failures dead-letter the task with its history and a failed result', async () => {
  let { e, id } = await deliver('D');
  await redis.zadd(ks.openTasks('acme'), '9999999999999', 'D'); // admitted as open
  for (let i = 0; i < 5; i++) {
    assert.equal((await tr.requeue({ ...base, entry: e, entryId: id, consumer: 'w1', mode: 'handback', reason: 'drain' })).kind, 'requeued');
    ({ e, id } = await readAndClaim('w1'));
  }
  assert.equal(e.attempt, 6);
  assert.equal(await redis.zscore(ks.openTasks('acme'), 'D'), '9999999999999', 'requeued, the task is still open');
  await redis.xclaim(ks.lane('high'), WORKERS_GROUP, 'sup', 0, id);
  assert.equal((await tr.requeue({ ...base, entry: e, entryId: id, consumer: 'sup', mode: 'reclaim', reason: 'lease expired' })).kind, 'requeued');
  ({ e, id } = await readAndClaim('w1'));
  assert.equal((await tr.requeue({ ...base, entry: e, entryId: id, consumer: 'w1', mode: 'retry', dueAt: 1, reason: 'ERROR_SERVER_ERROR' })).kind, 'delayed');
  await tr.promote('D', 'high', 5);
  ({ e, id } = await readAndClaim('w1'));
  const last = await tr.requeue({ ...base, entry: e, entryId: id, consumer: 'w1', mode: 'retry', dueAt: 1, reason: 'ERROR_SERVER_ERROR', errorCode: 'ERROR_SERVER_ERROR' });
  assert.equal(last.kind, 'dead-lettered');
  assert.equal(await redis.zscore(ks.openTasks('acme'), 'D'), null, 'dead-lettered, it no longer counts against the cap');

  const view = await readTask(redis, ks, 'D');
  assert.equal(view?.status, 'failed');
  assert.equal(view?.errorCode, 'ERROR_SERVER_ERROR');
  const results = (await redis.xrange(ks.results, '-', '+')) as [string, string[]][];
  const result = decodeResultEntry(results[0]?.[1] ?? []);
  assert.ok(result.ok && result.value.outcome === 'failed' && result.value.tenant === 'acme');
  const dead = (await redis.xrange(ks.deadLetter, '-', '+')) as [string, string[]][];
  const dl = fieldsToObject(dead[0]?.[1] ?? []);
  assert.equal(dl.kind, 'exhausted');
  assert.equal(dl.failures, '3');
  const history = JSON.parse(dl.history!) as { mode: string }[];
  assert.deepEqual(history.map((h) => h.mode), ['handback', 'handback', 'handback', 'handback', 'handback', 'reclaim', 'retry', 'retry']);
  assert.equal(await redis.xlen(ks.lane('high')), 0);
  const ev = await eventsOf('D');
  assert.deepEqual(ev.slice(-2), ['dead-lettered', 'failed']);
});

test('requeue of a finished task only acks and drops the entry', async () => {
  const { e, id } = await deliver('E');
  await tr.complete({ result: { taskId: 'E', outcome: 'solved', tenant: 'acme', type: 'recaptcha_v3', attempt: 1, completedAt: 5, solution: { token: 't' }, trace: {} }, priority: 'high', consumer: 'w9', now: 5 });
  assert.deepEqual(await tr.requeue({ ...base, entry: e, entryId: id, consumer: 'w1', mode: 'handback' }), { kind: 'terminal', status: 'solved' });
  assert.equal(await redis.xlen(ks.lane('high')), 0);
  assert.equal(await redis.xlen(ks.results), 1);
});

test('reclaim hold: a claimed task without a checkpoint waits in the delayed set, so its frozen worker\'s paid-for id lands first; the held delivery polls it', async () => {
  const { e, id } = await deliver('H');
  // w1 sent the provider submit and froze before its checkpoint; its lease ran out.
  await redis.xclaim(ks.lane('high'), WORKERS_GROUP, 'sup', 0, id);
  const r = await tr.requeue({ ...base, entry: e, entryId: id, consumer: 'sup', mode: 'reclaim', reason: 'lease expired', dueAt: 5_010 });
  assert.deepEqual(r, { kind: 'delayed' });
  assert.equal(await redis.xlen(ks.lane('high')), 0, 'nothing to deliver yet');
  assert.equal(await redis.zscore(ks.delayed, 'H'), '5010');
  assert.deepEqual(await eventsOf('H'), ['submitted', 'claimed', 'reclaimed']);
  assert.equal(await tr.promote('H', 'high', 5_000), 'not-due');
  // w1 wakes: its checkpoint is stale, so its keeper writes the id where the task has none.
  await wakeAndRedeliver(redis, ks, tr, 'H', 5_010);
});

test('reclaim hold applies only where a submit may be unrecorded: a checkpointed task, and one never claimed, are requeued at once', async () => {
  const a = await deliver('I');
  await tr.checkpoint({ taskId: 'I', provider: 'sim', providerTaskId: '1', attempt: 1, consumer: 'w1', now: 3 });
  await redis.xclaim(ks.lane('high'), WORKERS_GROUP, 'sup', 0, a.id);
  assert.equal((await tr.requeue({ ...base, entry: a.e, entryId: a.id, consumer: 'sup', mode: 'reclaim', dueAt: 5_000 })).kind, 'requeued');
  await tr.submit({ entry: entry('J'), now: 1 });
  // Read (twice over: I's new entry and J) but J never claimed: the worker died in between.
  const read = flattenReadReply(await redis.xreadgroup('GROUP', WORKERS_GROUP, 'w1', 'COUNT', 5, 'STREAMS', ks.lane('high'), '>'));
  const j = read.find((x) => { const d = x.fields ? decodeTaskEntry(x.fields) : undefined; return d?.ok && d.value.taskId === 'J'; });
  assert.ok(j);
  await redis.xclaim(ks.lane('high'), WORKERS_GROUP, 'sup', 0, j.id);
  assert.equal((await tr.requeue({ ...base, entry: entry('J'), entryId: j.id, consumer: 'sup', mode: 'reclaim', dueAt: 5_000 })).kind, 'requeued');
  assert.equal(await redis.zcard(ks.delayed), 0);
});

test('reclaim hold never postpones a dead-letter: a claimed task without a checkpoint reclaimed once too often gets its failed result at once', async () => {
  let { e, id } = await deliver('K');
  for (let n = 1; n < base.maxFailures; n++) {
    // Each delivery is claimed and stalls; held reclaims are promoted when due.
    await redis.xclaim(ks.lane('high'), WORKERS_GROUP, 'sup', 0, id);
    assert.deepEqual(await tr.requeue({ ...base, entry: e, entryId: id, consumer: 'sup', mode: 'reclaim', dueAt: 20 }), { kind: 'delayed' });
    assert.equal(await tr.promote('K', 'high', 20), 'promoted');
    ({ e, id } = await readAndClaim('w1'));
  }
  await redis.xclaim(ks.lane('high'), WORKERS_GROUP, 'sup', 0, id);
  const r = await tr.requeue({ ...base, entry: e, entryId: id, consumer: 'sup', mode: 'reclaim', dueAt: 20 });
  assert.equal(r.kind, 'dead-lettered');
  assert.equal(await redis.zscore(ks.delayed, 'K'), null, 'not held');
  assert.equal((await readTask(redis, ks, 'K'))?.status, 'failed');
  assert.equal(await redis.xlen(ks.results), 1, 'the client has its final answer');
});
