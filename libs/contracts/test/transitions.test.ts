import { test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { startRedis, useRedis } from '@solvestream/testkit';
import {
  decodeEventEntry,
  decodeResultEntry,
  ensureWorkerGroups,
  flattenReadReply,
  keyspace,
  readTask,
  Transitions,
  WORKERS_GROUP,
  type ResultEntry,
  type TaskEntry,
} from '../src';

let redis: Redis;
const ks = keyspace({ prefix: 't', partition: 'p0' });
let tr: Transitions;

useRedis({
  setup: (client) => {
    redis = client;
    tr = new Transitions(redis, ks, { resultTtlSeconds: 60 });
  },
  reset: async () => {
    await ensureWorkerGroups(redis, ks);
  },
});

const entry = (taskId: string, over: Partial<TaskEntry> = {}): TaskEntry => ({
  taskId,
  type: 'turnstile',
  params: { websiteURL: 'https://example.com', websiteKey: '0x4AAAAAAAB' },
  tenant: 'acme',
  priority: 'normal',
  attempt: 1,
  submittedAt: 1000,
  deadline: 999_999,
  trace: {},
  ...over,
});
const result = (taskId: string, over: Partial<ResultEntry> = {}): ResultEntry => ({
  taskId, outcome: 'solved', tenant: 'acme', type: 'turnstile', attempt: 1, completedAt: 2000,
  solution: { token: 'tok-' + taskId }, provider: 'sim', providerTaskId: '42', trace: {}, ...over,
});

async function events(taskId?: string): Promise<string[]> {
  const raw = (await redis.xrange(ks.events, '-', '+')) as [string, string[]][];
  return raw
    .map(([id, f]) => decodeEventEntry(id, f))
    .flatMap((d) => (d.ok && (!taskId || d.value.taskId === taskId) ? [d.value.event] : []));
}

async function readOne(consumer = 'w1') {
  const reply = await redis.xreadgroup('GROUP', WORKERS_GROUP, consumer, 'COUNT', 10, 'STREAMS', ...ks.lanes, ...ks.lanes.map(() => '>'));
  return flattenReadReply(reply);
}

test('submitTask: projection queued, submitted event and lane entry in one call', async () => {
  const r = await tr.submit({ entry: entry('A'), now: 1000 });
  assert.equal(r.created, true);
  const view = await readTask(redis, ks, 'A');
  assert.equal(view?.status, 'queued');
  assert.equal(view?.tenant, 'acme');
  assert.deepEqual(await events('A'), ['submitted']);
  assert.equal(await redis.xlen(ks.lane('normal')), 1);
  await assert.rejects(tr.submit({ entry: entry('A'), now: 1000 }), /TASK_EXISTS|already exists/);
  assert.equal(await redis.xlen(ks.lane('normal')), 1, 'a refused submit writes nothing');
});

test('submitTask: one idempotency key maps to one task, even under concurrent submits', async () => {
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) => tr.submit({ entry: entry(`I${i}`), idempotencyKey: 'order-7', now: 1000 })),
  );
  const created = results.filter((r) => r.created);
  assert.equal(created.length, 1);
  assert.ok(results.every((r) => r.taskId === created[0]?.taskId));
  assert.equal(await redis.xlen(ks.lane('normal')), 1);
  // Another tenant with the same key gets its own task.
  const other = await tr.submit({ entry: entry('J', { tenant: 'globex' }), idempotencyKey: 'order-7', now: 1000 });
  assert.equal(other.created, true);
});

test('claim → checkpoint → complete: one result, entry acked and deleted, events in order', async () => {
  await tr.submit({ entry: entry('B'), now: 1000 });
  const [read] = await readOne();
  assert.ok(read);
  const claim = await tr.claim({ entry: entry('B'), entryId: read.id, consumer: 'w1', now: 1100 });
  assert.deepEqual(claim, { proceed: true });
  assert.equal((await readTask(redis, ks, 'B'))?.status, 'active');
  assert.equal(await tr.checkpoint({ taskId: 'B', provider: 'sim', providerTaskId: '42', attempt: 1, consumer: 'w1', now: 1200 }), 'recorded');

  const done = await tr.complete({ result: result('B'), priority: 'normal', entryId: read.id, consumer: 'w1', now: 2000 });
  assert.equal(done.published, true);
  const view = await readTask(redis, ks, 'B');
  assert.equal(view?.status, 'solved');
  assert.deepEqual(view?.solution, { token: 'tok-B' });
  assert.ok((await redis.ttl(ks.task('B'))) > 0, 'terminal projection gets a TTL');
  const results = (await redis.xrange(ks.results, '-', '+')) as [string, string[]][];
  assert.equal(results.length, 1);
  const decoded = decodeResultEntry(results[0]![1]);
  assert.ok(decoded.ok && decoded.value.solution?.token === 'tok-B');
  const pending = (await redis.xpending(ks.lane('normal'), WORKERS_GROUP)) as [number];
  assert.equal(pending[0], 0, 'entry acked');
  assert.equal(await redis.xlen(ks.lane('normal')), 0, 'entry deleted');
  assert.deepEqual(await events('B'), ['submitted', 'claimed', 'provider-submitted', 'solved']);
});

test('first result wins: a second outcome is a duplicate event, never published', async () => {
  await tr.submit({ entry: entry('C'), now: 1000 });
  const [read] = await readOne();
  await tr.claim({ entry: entry('C'), entryId: read!.id, consumer: 'w1', now: 1100 });
  const outcomes = await Promise.all([
    tr.complete({ result: result('C'), priority: 'normal', entryId: read!.id, consumer: 'w1', now: 2000 }),
    tr.complete({ result: result('C', { outcome: 'failed', solution: undefined, errorCode: 'X' }), priority: 'normal', entryId: read!.id, consumer: 'w2', now: 2001 }),
  ]);
  assert.equal(outcomes.filter((o) => o.published).length, 1);
  assert.equal(await redis.xlen(ks.results), 1);
  assert.equal((await readTask(redis, ks, 'C'))?.status, 'solved');
  assert.deepEqual(await events('C'), ['submitted', 'claimed', 'solved', 'duplicate']);
  // A checkpoint after the outcome is refused too.
  assert.equal(await tr.checkpoint({ taskId: 'C', provider: 'sim', providerTaskId: '1', attempt: 1, consumer: 'w2', now: 3000 }), 'terminal');
});

test('claim of a finished task acks and drops the redelivered entry; claim returns the checkpoint', async () => {
  await tr.submit({ entry: entry('D'), now: 1000 });
  const [read] = await readOne();
  await tr.claim({ entry: entry('D'), entryId: read!.id, consumer: 'w1', now: 1100 });
  await tr.checkpoint({ taskId: 'D', provider: 'sim', providerTaskId: '777', attempt: 1, consumer: 'w1', now: 1200 });
  // Another worker resumes the same entry (ownership moved to it, as XAUTOCLAIM does): it
  // learns the provider id instead of resubmitting.
  await redis.xclaim(ks.lane('normal'), WORKERS_GROUP, 'w2', 0, read!.id, 'JUSTID');
  const resumed = await tr.claim({ entry: entry('D', { attempt: 2 }), entryId: read!.id, consumer: 'w2', now: 1300 });
  assert.deepEqual(resumed, { proceed: true, checkpoint: { provider: 'sim', providerTaskId: '777' } });
  await tr.complete({ result: result('D'), priority: 'normal', entryId: read!.id, consumer: 'w2', now: 2000 });
  // Redelivery after the outcome: nothing to do.
  await redis.xadd(ks.lane('normal'), '*', 'x', '1');
  const [again] = await readOne('w3');
  const late = await tr.claim({ entry: entry('D'), entryId: again!.id, consumer: 'w3', now: 2100 });
  assert.deepEqual(late, { proceed: false, status: 'solved' });
  assert.equal(await redis.xlen(ks.lane('normal')), 0);
});

test('claim rebuilds a missing projection from the entry (streams are the truth)', async () => {
  await tr.submit({ entry: entry('E'), now: 1000 });
  const [read] = await readOne();
  await redis.del(ks.task('E'));
  const claim = await tr.claim({ entry: entry('E'), entryId: read!.id, consumer: 'w1', now: 1100 });
  assert.equal(claim.proceed, true);
  const view = await readTask(redis, ks, 'E');
  assert.equal(view?.status, 'active');
  assert.equal(view?.type, 'turnstile');
  assert.equal(view?.tenant, 'acme');
  assert.equal(view?.priority, 'normal');
  assert.equal(view?.deadline, 999_999);
});

test('completeTask: a task whose JSON argument does not decode is refused alone; the rest of the call is published', async () => {
  for (const id of ['J1', 'J3']) await tr.submit({ entry: entry(id), now: 1000 });
  const arg = (id: string) => JSON.stringify([id, '', '2000', 'solved', '1', 'w1', ['v', '1', 'task', id, 'outcome', 'solved', 'tenant', 'acme', 'type', 'turnstile', 'attempt', '1', 'completedAt', '2000', 'solution', '{"token":"t"}']]);
  const keys = [ks.events, ks.results, ks.delayed, ks.delayedEntries];
  for (const id of ['J1', 'J2', 'J3']) keys.push(ks.task(id), ks.lane('normal'), ks.openTasks('acme'));
  const raw = (redis as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>).ss_completeTask!;
  const replies = await raw.call(redis, keys.length, ...keys, WORKERS_GROUP, 60, 0, 0, arg('J1'), '["J2", "", ', arg('J3')) as [number, string][];
  assert.deepEqual(replies.map((r) => r[0]), [1, -20, 1]);
  assert.equal((await readTask(redis, ks, 'J3'))?.status, 'solved');
  assert.equal(await redis.xlen(ks.results), 2);
  // Decodable but not a complete array (a null item, a number in the fields): refused alone too.
  await tr.submit({ entry: entry('J4'), now: 1000 });
  const more = await raw.call(redis, 10, ks.events, ks.results, ks.delayed, ks.delayedEntries, ks.task('J2'), ks.lane('normal'), ks.openTasks('acme'),
    ks.task('J4'), ks.lane('normal'), ks.openTasks('acme'), WORKERS_GROUP, 60, 0, 0,
    '["J2", "", null, "solved", "1", "w1", []]', JSON.stringify(['J4', '', '2000', 'solved', '1', 'w1', ['v', 1]])) as [number, string][];
  assert.deepEqual(more.map((r) => r[0]), [-20, -20]);
  assert.equal((await readTask(redis, ks, 'J4'))?.status, 'queued');
});

test('complete: a provider error text with a lone surrogate is stored (as U+FFFD), not refused', async () => {
  await tr.submit({ entry: entry('S1'), now: 1000 });
  const [read] = await readOne();
  await tr.claim({ entry: entry('S1'), entryId: read!.id, consumer: 'w1', now: 1100 });
  const done = await tr.complete({
    result: result('S1', { outcome: 'failed', solution: undefined, errorCode: 'ERROR_X', errorMessage: 'bad \ud83d end' }),
    priority: 'normal', entryId: read!.id, consumer: 'w1', now: 2000,
  });
  assert.equal(done.published, true);
  assert.equal((await readTask(redis, ks, 'S1'))?.errorMessage, 'bad \ufffd end');
});

test('complete of an unknown task is refused and publishes nothing', async () => {
  await assert.rejects(tr.complete({ result: result('nope'), priority: 'normal', consumer: 'w1', now: 1 }), /no projection/);
  assert.equal(await redis.xlen(ks.results), 0);
});

test('scripts survive a Redis restart (script cache flushed → EVAL fallback)', async () => {
  const s = await startRedis({ aof: true });
  const c = new Redis(s.url, { maxRetriesPerRequest: null });
  try {
    const t = new Transitions(c, ks);
    await ensureWorkerGroups(c, ks);
    await t.submit({ entry: entry('R1'), now: 1 });
    await new Promise((r) => setTimeout(r, 1500)); // appendfsync everysec
    await s.restart();
    await t.submit({ entry: entry('R2'), now: 2 });
    assert.equal(await c.xlen(ks.lane('normal')), 2);
    // The claim script too, after a second restart (the worker claims a batch in one call).
    await s.restart();
    const got = flattenReadReply(await c.xreadgroup('GROUP', WORKERS_GROUP, 'w', 'COUNT', 2, 'STREAMS', ks.lane('normal'), '>'));
    assert.equal(got.length, 2);
    const claim = await t.claim({ entry: entry('R1'), entryId: got[0]!.id, consumer: 'w', now: 3 });
    assert.equal(claim.proceed, true);
  } finally {
    c.disconnect();
    await s.stop();
  }
});

test('deadLetterPoison: entry moves to dead-letter with its reason, acked and deleted', async () => {
  await redis.xadd(ks.lane('normal'), '*', 'task', 'P1', 'garbage', 'yes');
  const [read] = await readOne();
  const dl = await tr.deadLetterPoison({ stream: read!.stream, entryId: read!.id, fields: read!.fields, reason: 'v: unsupported entry version null', consumer: 'w1', now: 5 });
  const dead = (await redis.xrange(ks.deadLetter, '-', '+')) as [string, string[]][];
  assert.equal(dead.length, 1);
  assert.equal(dead[0]![0], dl);
  const f = Object.fromEntries(dead[0]![1].reduce<[string, string][]>((a, v, i, arr) => (i % 2 ? a : [...a, [v, arr[i + 1]!]]), []));
  assert.equal(f.reason, 'v: unsupported entry version null');
  assert.equal(f.task, 'P1');
  assert.deepEqual(JSON.parse(f.raw!), ['task', 'P1', 'garbage', 'yes']);
  assert.equal(await redis.xlen(ks.lane('normal')), 0);
  assert.deepEqual(await events('P1'), ['dead-lettered']);
});

test('reassertCheckpoints: written only where the task names no provider id, whatever the delivery; terminal and missing say so', async () => {
  const cp = (taskId: string, providerTaskId: string, attempt = 1) => ({ taskId, provider: 'sim', providerTaskId, attempt, consumer: 'w1', now: 5000 });
  // R1: restored without its checkpoint, at a later attempt than the one that paid.
  await tr.submit({ entry: entry('R1'), now: 1000 });
  await redis.hset(ks.task('R1'), 'attempt', '3');
  // R2: already names a provider id (the archive had it, or a live delivery wrote its own).
  await tr.submit({ entry: entry('R2'), now: 1000 });
  assert.equal(await tr.checkpoint(cp('R2', 'live-9')), 'recorded');
  // R3: finished.
  await tr.submit({ entry: entry('R3'), now: 1000 });
  const [, , r3] = await readOne();
  assert.ok(r3);
  await tr.complete({ result: result('R3'), priority: 'normal', entryId: r3.id, consumer: 'w1', now: 2000 });

  // The plain checkpoint refuses R1 (a newer delivery exists) ...
  assert.equal(await tr.checkpoint(cp('R1', 'paid-1')), 'stale');
  // ... the reassertion writes it, and leaves R2's live id alone.
  const replies = await tr.reassertCheckpoints([cp('R1', 'paid-1'), cp('R2', 'paid-2'), cp('R3', 'paid-3'), cp('NOPE', 'paid-4')]);
  assert.deepEqual(replies, ['recorded', 'present', 'terminal', 'missing']);
  assert.equal((await readTask(redis, ks, 'R1'))?.providerTaskId, 'paid-1');
  assert.equal((await readTask(redis, ks, 'R2'))?.providerTaskId, 'live-9');
  assert.equal(await redis.exists(ks.task('NOPE')), 0, 'a missing task is not created');
  assert.deepEqual(await events('R1'), ['submitted', 'provider-submitted']);
  const raw = (await redis.xrange(ks.events, '-', '+')) as [string, string[]][];
  const ev = raw.map(([id, f]) => decodeEventEntry(id, f)).find((d) => d.ok && d.value.taskId === 'R1' && d.value.event === 'provider-submitted');
  assert.ok(ev?.ok);
  assert.equal(ev.value.data.reasserted, '1');
  // A claim of the restored task now resumes the paid-for id.
  await redis.xadd(ks.lane('normal'), '*', 'x', '1'); // the restored task's next delivery
  const [next] = await readOne('w2');
  assert.deepEqual(await tr.claim({ entry: entry('R1', { attempt: 3 }), entryId: next!.id, consumer: 'w2', now: 6000 }),
    { proceed: true, checkpoint: { provider: 'sim', providerTaskId: 'paid-1' } });
  // Again: nothing changes.
  assert.deepEqual(await tr.reassertCheckpoints([cp('R1', 'other')]), ['present']);
  assert.deepEqual(await tr.reassertCheckpoints([]), []);
});

test('claimBatch: one call claims a mixed batch — fresh, resumed with its checkpoint, finished (acked and dropped), projection missing (rebuilt)', async () => {
  for (const id of ['M1', 'M2', 'M3']) await tr.submit({ entry: entry(id), now: 1000 });
  const read = await readOne();
  assert.equal(read.length, 3);
  await tr.claim({ entry: entry('M2'), entryId: read[1]!.id, consumer: 'w0', now: 1050 });
  await tr.checkpoint({ taskId: 'M2', provider: 'sim', providerTaskId: '99', attempt: 1, consumer: 'w0', now: 1060 });
  await tr.complete({ result: result('M3'), priority: 'normal', entryId: '', consumer: 'w0', now: 1070 });
  await redis.del(ks.task('M1')); // the projection is gone (rebuilt from the entry)
  const claims = await tr.claimBatch({ consumer: 'w1', now: 1100, items: read.map((r, i) => ({ entry: entry(['M1', 'M2', 'M3'][i]!), entryId: r.id })) });
  assert.deepEqual(claims, [
    { proceed: true },
    { proceed: true, checkpoint: { provider: 'sim', providerTaskId: '99' } },
    { proceed: false, status: 'solved' },
  ]);
  const m1 = await readTask(redis, ks, 'M1');
  assert.deepEqual([m1?.status, m1?.tenant, m1?.type], ['active', 'acme', 'turnstile']);
  assert.equal((await redis.xrange(ks.lane('normal'), read[2]!.id, read[2]!.id)).length, 0, 'the finished one is dropped');
  assert.deepEqual(await tr.claimBatch({ consumer: 'w1', now: 1100, items: [] }), []);
});

test('claim of an entry no longer pending for the caller is refused and writes nothing: a frozen reader cannot take a reclaimed task back', async () => {
  await tr.submit({ entry: entry('F1'), now: 1000 });
  const [read] = await readOne('w1');
  assert.ok(read);
  // w1 froze between its read and its claim; the supervisor reclaimed the entry meanwhile.
  const r = await tr.requeue({ entry: entry('F1'), entryId: read.id, consumer: 'w1', mode: 'reclaim', reason: 'lease expired', maxFailures: 5, now: 2000 });
  assert.equal(r.kind, 'requeued');
  const before = await redis.hgetall(ks.task('F1'));
  const eventsBefore = await events('F1');
  assert.deepEqual(await tr.claim({ entry: entry('F1'), entryId: read.id, consumer: 'w1', now: 3000 }), { proceed: false, status: 'not-pending' });
  assert.deepEqual(await redis.hgetall(ks.task('F1')), before, 'the projection is untouched (still queued for its new delivery)');
  assert.deepEqual(await events('F1'), eventsBefore);
  // Another consumer's pending entry is refused too.
  const [next] = await readOne('w2');
  assert.ok(next);
  assert.deepEqual(await tr.claim({ entry: entry('F1', { attempt: 2 }), entryId: next.id, consumer: 'w3', now: 3100 }), { proceed: false, status: 'not-pending' });
  assert.deepEqual(await tr.claim({ entry: entry('F1', { attempt: 2 }), entryId: next.id, consumer: 'w2', now: 3200 }), { proceed: true });
  // An entry lost with a wiped Redis: the projection is not rebuilt for it.
  await redis.del(ks.task('F1'));
  await redis.xack(ks.lane('normal'), WORKERS_GROUP, next.id);
  assert.deepEqual(await tr.claim({ entry: entry('F1', { attempt: 2 }), entryId: next.id, consumer: 'w2', now: 3300 }), { proceed: false, status: 'not-pending' });
  assert.equal(await redis.exists(ks.task('F1')), 0);
});


test('a claim resets the entry\'s idle time: the lease starts at the claim, not at the read (a reader stalled in between does not claim an entry about to be reclaimed)', async () => {
  await tr.submit({ entry: entry('L1'), now: 1000 });
  await tr.submit({ entry: entry('L2'), now: 1000 });
  const read = await readOne('w1');
  assert.equal(read.length, 2);
  await new Promise((r) => setTimeout(r, 400)); // the reader stalls between its read and its claim
  const idle = async (id: string): Promise<number> => {
    const [p] = (await redis.xpending(ks.lane('normal'), WORKERS_GROUP, id, id, 1)) as [string, string, number, number][];
    assert.ok(p, `entry ${id} pending`);
    return p[2];
  };
  assert.ok((await idle(read[0]!.id)) >= 400);
  const [claimed] = await tr.claimBatch({ consumer: 'w1', now: 1400, items: [{ entry: entry('L1'), entryId: read[0]!.id }] });
  assert.deepEqual(claimed, { proceed: true });
  assert.ok((await idle(read[0]!.id)) < 200, 'the claimed entry is fresh');
  assert.ok((await idle(read[1]!.id)) >= 400, 'the unclaimed one is not');
  const [p] = (await redis.xpending(ks.lane('normal'), WORKERS_GROUP, read[0]!.id, read[0]!.id, 1)) as [string, string, number, number][];
  assert.equal(p?.[1], 'w1');
  assert.equal(p?.[3], 1, 'no delivery counted (JUSTID)');
});
test('claimBatch: a failing call reports its Error for its own entries only; the other calls\' claims stand', async () => {
  const ids = Array.from({ length: 205 }, (_, i) => `B${i}`);
  for (const id of ids) await tr.submit({ entry: entry(id), now: 1000 });
  const read = flattenReadReply(await redis.xreadgroup('GROUP', WORKERS_GROUP, 'w1', 'COUNT', 300, 'STREAMS', ks.lane('normal'), '>'));
  assert.equal(read.length, 205);
  await redis.del(ks.task('B202'));
  await redis.set(ks.task('B202'), 'not a hash'); // the second call (entries 200..204) fails on it
  const claims = await tr.claimBatch({ consumer: 'w1', now: 1100, items: read.map((r, i) => ({ entry: entry(ids[i]!), entryId: r.id })) });
  assert.equal(claims.length, 205);
  assert.ok(claims.slice(0, 200).every((c) => !(c instanceof Error) && c.proceed), 'the first call claimed its 200');
  assert.ok(claims.slice(200).every((c) => c instanceof Error && /WRONGTYPE/.test(c.message)));
  // The other way round: the FIRST call fails (entry 3), the second (200..204) claims its own.
  const more = Array.from({ length: 205 }, (_, i) => `Z${i}`);
  for (const id of more) await tr.submit({ entry: entry(id), now: 1000 });
  const read2 = flattenReadReply(await redis.xreadgroup('GROUP', WORKERS_GROUP, 'w2', 'COUNT', 300, 'STREAMS', ks.lane('normal'), '>'));
  assert.equal(read2.length, 205);
  await redis.del(ks.task('Z3'));
  await redis.set(ks.task('Z3'), 'not a hash');
  const claims2 = await tr.claimBatch({ consumer: 'w2', now: 1100, items: read2.map((r, i) => ({ entry: entry(more[i]!), entryId: r.id })) });
  assert.ok(claims2.slice(0, 200).every((c) => c instanceof Error && /WRONGTYPE/.test(c.message)));
  assert.ok(claims2.slice(200).every((c) => !(c instanceof Error) && c.proceed), 'the second call claimed its 5');
  await assert.rejects(tr.claim({ entry: entry('B202'), entryId: read[202]!.id, consumer: 'w1', now: 1200 }), /WRONGTYPE/);
});

test('completeBatch: one call settles a mixed batch — published, duplicate of a finished task, no projection — each as complete would, entries acked', async () => {
  for (const id of ['K1', 'K2', 'K3', 'K4']) await tr.submit({ entry: entry(id), now: 1000 });
  const read = await readOne();
  assert.equal(read.length, 4);
  await tr.complete({ result: result('K2', { outcome: 'failed', solution: undefined, errorCode: 'X' }), priority: 'normal', consumer: 'w0', now: 1500 });
  await redis.del(ks.task('K3'));
  const input = (id: string, i: number, over: Partial<ResultEntry> = {}) =>
    ({ result: result(id, over), priority: 'normal' as const, entryId: read[i]!.id, consumer: 'w1', now: 2000 + i });
  await redis.zadd(ks.openTasks('acme'), 999_999, 'K1', 999_999, 'K4', 999_999, 'other'); // admitted as open
  const done = await tr.completeBatch([input('K1', 0), input('K2', 1), input('K3', 2), input('K4', 3, { outcome: 'failed', solution: undefined, errorCode: 'ERROR_CAPTCHA_UNSOLVABLE' })]);
  assert.deepEqual(await redis.zrange(ks.openTasks('acme'), '0', '-1'), ['other'], 'a published outcome frees its open-task slot');
  assert.equal(done.length, 4);
  assert.ok(!(done[0] instanceof Error) && done[0]?.published);
  assert.deepEqual(done[1], { published: false, status: 'failed' }, 'the first outcome stands');
  assert.ok(done[2] instanceof Error && /NO_TASK|no projection/.test(done[2].message) && /K3/.test(done[2].message));
  assert.ok(!(done[3] instanceof Error) && done[3]?.published);
  // Exactly one result per task that had a projection; each in its own fields.
  const results = ((await redis.xrange(ks.results, '-', '+')) as [string, string[]][]).map(([, f]) => decodeResultEntry(f));
  const byTask = new Map(results.map((r) => [r.ok ? r.value.taskId : '?', r.ok ? r.value : undefined]));
  assert.equal(results.length, 3);
  assert.equal(byTask.get('K1')?.solution?.token, 'tok-K1');
  assert.equal(byTask.get('K2')?.errorCode, 'X');
  assert.equal(byTask.get('K4')?.errorCode, 'ERROR_CAPTCHA_UNSOLVABLE');
  const k1 = await readTask(redis, ks, 'K1');
  assert.deepEqual([k1?.status, k1?.updatedAt], ['solved', 2000]);
  assert.equal((await readTask(redis, ks, 'K4'))?.status, 'failed');
  assert.deepEqual(await events('K2'), ['submitted', 'failed', 'duplicate']);
  assert.deepEqual(await events('K4'), ['submitted', 'failed']);
  // Every entry of the batch is acked and deleted, the refused ones too.
  assert.equal((await redis.xpending(ks.lane('normal'), WORKERS_GROUP) as [number])[0], 0);
  assert.equal(await redis.xlen(ks.lane('normal')), 0);
  assert.deepEqual(await tr.completeBatch([]), []);
});

test('checkpointBatch: one call records a mixed batch — recorded, stale (a newer delivery), terminal, no projection — as checkpoint would', async () => {
  for (const id of ['C1', 'C2', 'C3']) await tr.submit({ entry: entry(id), now: 1000 });
  const read = await readOne();
  await tr.claimBatch({ consumer: 'w1', now: 1100, items: read.map((r, i) => ({ entry: entry(['C1', 'C2', 'C3'][i]!), entryId: r.id })) });
  // C2 was reclaimed and is on its second delivery; C3 already finished.
  await tr.requeue({ entry: entry('C2'), entryId: read[1]!.id, consumer: 'w1', mode: 'reclaim', reason: 'lease expired', maxFailures: 5, now: 1200 });
  const [again] = await readOne('w2');
  await tr.claim({ entry: entry('C2', { attempt: 2 }), entryId: again!.id, consumer: 'w2', now: 1300 });
  await tr.complete({ result: result('C3'), priority: 'normal', entryId: read[2]!.id, consumer: 'w1', now: 1400 });
  const cp = (taskId: string, providerTaskId: string) => ({ taskId, provider: 'sim', providerTaskId, attempt: 1, consumer: 'w1', now: 1500 });
  const got = await tr.checkpointBatch([cp('C1', 'p1'), cp('C2', 'p2'), cp('C3', 'p3'), cp('C4', 'p4')]);
  assert.deepEqual(got.slice(0, 3), ['recorded', 'stale', 'terminal']);
  assert.ok(got[3] instanceof Error && /C4/.test(got[3].message));
  const c1 = await readTask(redis, ks, 'C1');
  assert.deepEqual([c1?.provider, c1?.providerTaskId], ['sim', 'p1']);
  assert.equal((await readTask(redis, ks, 'C2'))?.providerTaskId, undefined, 'the live delivery keeps its own checkpoint');
  assert.deepEqual(await events('C1'), ['submitted', 'claimed', 'provider-submitted']);
  assert.ok(!(await events('C2')).includes('provider-submitted'));
  assert.deepEqual(await tr.checkpointBatch([]), []);
});

test('complete: a write that fails leaves the entry pending for a reclaim (the ack comes last), and the task open', async () => {
  await tr.submit({ entry: entry('W1'), now: 1000 });
  const [read] = await readOne();
  await tr.claim({ entry: entry('W1'), entryId: read!.id, consumer: 'w1', now: 1100 });
  await redis.zadd(ks.openTasks('acme'), '999999', 'W1');
  await redis.del(ks.results);
  await redis.set(ks.results, 'not a stream'); // the result's XADD fails
  await assert.rejects(tr.complete({ result: result('W1'), priority: 'normal', entryId: read!.id, consumer: 'w1', now: 2000 }), /WRONGTYPE/);
  const pending = (await redis.xpending(ks.lane('normal'), WORKERS_GROUP, '-', '+', 10)) as [string, string, number, number][];
  assert.deepEqual(pending.map((p) => p[0]), [read!.id], 'still pending: the supervisor reclaims it after the lease');
  assert.equal((await redis.xrange(ks.lane('normal'), read!.id, read!.id)).length, 1, 'and its payload is still there');
  assert.equal((await readTask(redis, ks, 'W1'))?.status, 'active');
  assert.equal(await redis.zscore(ks.openTasks('acme'), 'W1'), '999999');
});

test('completeBatch past one call: every answer belongs to its own task (calls sent together), errors name theirs', async () => {
  const ids = Array.from({ length: 410 }, (_, i) => `P${i}`);
  for (const id of ids) await tr.submit({ entry: entry(id), now: 1000 });
  const missing = new Set([199, 200, 401]);
  for (const i of missing) await redis.del(ks.task(ids[i]!));
  const done = await tr.completeBatch(ids.map((id, i) => ({ result: result(id, { solution: { token: `tok-${i}` } }), priority: 'normal' as const, consumer: 'w1', now: 2000 + i })));
  assert.equal(done.length, 410);
  done.forEach((d, i) => {
    if (missing.has(i)) assert.ok(d instanceof Error && d.message.includes(`task ${ids[i]} `), `item ${i}: ${String(d)}`);
    else assert.ok(!(d instanceof Error) && d.published, `item ${i}`);
  });
  // Each published result carries its own task's token.
  const results = ((await redis.xrange(ks.results, '-', '+')) as [string, string[]][]).map(([, f]) => decodeResultEntry(f));
  assert.equal(results.length, 407);
  for (const r of results) assert.ok(r.ok && r.value.solution?.token === `tok-${ids.indexOf(r.value.taskId)}`);
});

test('a requeue or a promotion of a task whose projection is gone (data loss) rebuilds it from the entry', async () => {
  // Before: each wrote only its own fields, leaving a projection without type, tenant or
  // deadline (404 to its client, invisible to the expiry sweep).
  const base = { type: 'turnstile', tenant: 'acme', priority: 'normal', deadline: 999_999 };
  await tr.submit({ entry: entry('L1'), now: 1000 });
  const [r1] = await readOne();
  await tr.claim({ entry: entry('L1'), entryId: r1!.id, consumer: 'w1', now: 1100 });
  await redis.del(ks.task('L1'));
  const requeued = await tr.requeue({ entry: entry('L1'), entryId: r1!.id, consumer: 'w1', mode: 'reclaim', reason: 'lease expired', maxFailures: 5, dueAt: 0, now: 1200 });
  assert.equal(requeued.kind, 'requeued');
  assert.deepEqual({ ...(await readTask(redis, ks, 'L1')) }, { ...(await readTask(redis, ks, 'L1')), ...base, status: 'queued', attempt: 2 });

  await tr.submit({ entry: entry('L2'), now: 1000 });
  const [r2] = await readOne();
  await tr.claim({ entry: entry('L2'), entryId: r2!.id, consumer: 'w1', now: 1100 });
  assert.equal((await tr.requeue({ entry: entry('L2'), entryId: r2!.id, consumer: 'w1', mode: 'retry', reason: 'busy', maxFailures: 5, dueAt: 1300, now: 1200 })).kind, 'delayed');
  await redis.del(ks.task('L2'));
  assert.equal(await tr.promote('L2', 'normal', 1400), 'promoted');
  const view = await readTask(redis, ks, 'L2');
  assert.deepEqual({ ...view }, { ...view, ...base, status: 'queued' });
  assert.ok(await redis.hget(ks.task('L2'), 'entryId'), 'and names the new delivery');
});
