/**
 * The client-API scripts against a real Redis: cancel, expire, report, webhook delivery
 * records, admission inside the submit call (mode, queue depth, tenant cap, rate) and
 * numeric ids.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { useRedis } from '@solvestream/testkit';
import {
  Admission,
  decodeEventEntry,
  decodeReportEntry,
  decodeResultEntry,
  ensureWorkerGroups,
  fieldsToObject,
  flattenReadReply,
  keyspace,
  readMode,
  readTask,
  Transitions,
  WORKERS_GROUP,
  writeMode,
  type AdmitRefusal,
  type Priority,
  type SubmitAdmission,
  type TaskEntry,
} from '../src';

let redis: Redis;
const ks = keyspace({ prefix: 'c', partition: 'p0' });
let tr: Transitions;
let adm: Admission;

useRedis({
  setup: (client) => {
    redis = client;
    tr = new Transitions(redis, ks, { resultTtlSeconds: 60 });
    adm = new Admission(redis, ks);
  },
  reset: async () => {
    await ensureWorkerGroups(redis, ks);
  },
});

const entry = (taskId: string, over: Partial<TaskEntry> = {}): TaskEntry => ({
  taskId, type: 'turnstile', params: { websiteURL: 'https://example.com', websiteKey: '0x4AAAAAAAB' },
  tenant: 'acme', priority: 'normal', attempt: 1, submittedAt: 1000, deadline: 50_000, trace: {}, ...over,
});

async function events(taskId: string): Promise<string[]> {
  const raw = (await redis.xrange(ks.events, '-', '+')) as [string, string[]][];
  return raw.map(([id, f]) => decodeEventEntry(id, f)).flatMap((d) => (d.ok && d.value.taskId === taskId ? [d.value.event] : []));
}

async function results(): Promise<ReturnType<typeof decodeResultEntry>[]> {
  return ((await redis.xrange(ks.results, '-', '+')) as [string, string[]][]).map(([, f]) => decodeResultEntry(f));
}

test('cancel: a queued task becomes cancelled with one cancelled result; a second cancel and other tenants change nothing', async () => {
  await tr.submit({ entry: entry('a'), projection: { callbackUrl: 'https://hooks.example/x' }, now: 1000 });
  await redis.zadd(ks.openTasks('acme'), '9999999999999', 'a'); // admitted as open
  assert.deepEqual(await tr.cancel({ taskId: 'a', tenant: 'other', reason: 'x', now: 1500 }), { kind: 'no-task' });
  assert.equal(await redis.zscore(ks.openTasks('acme'), 'a'), '9999999999999', 'another tenant cannot free it');
  const r = await tr.cancel({ taskId: 'a', tenant: 'acme', reason: 'client asked', now: 2000 });
  assert.equal(await redis.zscore(ks.openTasks('acme'), 'a'), null, 'cancelled, it no longer counts against the cap');
  assert.equal(r.kind, 'done');
  assert.deepEqual(await tr.cancel({ taskId: 'a', tenant: 'acme', reason: 'again', now: 2100 }), { kind: 'terminal', status: 'cancelled' });
  const view = await readTask(redis, ks, 'a');
  assert.equal(view?.status, 'cancelled');
  assert.equal(view?.errorCode, 'CANCELLED');
  assert.equal(await redis.hget(ks.task('a'), 'callbackUrl'), 'https://hooks.example/x', 'extra projection fields are kept');
  const rs = await results();
  assert.equal(rs.length, 1);
  assert.ok(rs[0]?.ok && rs[0].value.outcome === 'cancelled' && rs[0].value.tenant === 'acme');
  assert.deepEqual(await events('a'), ['submitted', 'cancelled']);
  assert.deepEqual(await tr.cancel({ taskId: 'nope', tenant: '', reason: 'x', now: 1 }), { kind: 'no-task' });
});

test('cancel removes a waiting delayed retry, and a worker that finishes later only records a duplicate', async () => {
  await tr.submit({ entry: entry('d'), now: 1000 });
  await redis.zadd(ks.delayed, 9_999, 'd');
  await redis.hset(ks.delayedEntries, 'd', '[]');
  await tr.cancel({ taskId: 'd', tenant: 'acme', reason: 'x', now: 2000 });
  assert.equal(await redis.zcard(ks.delayed), 0);
  assert.equal(await redis.hlen(ks.delayedEntries), 0);
  const done = await tr.complete({
    result: { taskId: 'd', outcome: 'solved', tenant: 'acme', type: 'turnstile', attempt: 1, completedAt: 3000, solution: { token: 't' }, trace: {} },
    priority: 'normal', consumer: 'w', now: 3000,
  });
  assert.equal(done.published, false);
  assert.equal((await readTask(redis, ks, 'd'))?.status, 'cancelled');
});

test('expire: not before deadline + grace; then failed with ERROR_CAPTCHA_UNSOLVABLE, once', async () => {
  await tr.submit({ entry: entry('e', { deadline: 10_000 }), now: 1000 });
  assert.deepEqual(await tr.expire({ taskId: 'e', graceMs: 5_000, now: 14_000 }), { kind: 'not-due' });
  assert.equal((await tr.expire({ taskId: 'e', graceMs: 5_000, now: 15_001 })).kind, 'done');
  assert.deepEqual(await tr.expire({ taskId: 'e', graceMs: 5_000, now: 16_000 }), { kind: 'terminal', status: 'failed' });
  const view = await readTask(redis, ks, 'e');
  assert.equal(view?.status, 'failed');
  assert.equal(view?.errorCode, 'ERROR_CAPTCHA_UNSOLVABLE');
  assert.deepEqual(await events('e'), ['submitted', 'expired', 'failed']);
  assert.equal((await results()).length, 1);
  assert.deepEqual(await tr.expire({ taskId: 'zz', graceMs: 0, now: 1 }), { kind: 'no-task' });
});

test('report: only solved tasks of the same tenant, once, inside the window; entry carries the provider ids', async () => {
  await tr.submit({ entry: entry('r'), now: 1000 });
  assert.deepEqual(await tr.report({ taskId: 'r', tenant: 'acme', verdict: 'bad', windowMs: 60_000, now: 1100 }), { kind: 'refused', reason: 'not-solved' });
  await tr.checkpoint({ taskId: 'r', provider: 'sim', providerTaskId: '777', attempt: 1, consumer: 'w', now: 1200 });
  await tr.complete({
    result: { taskId: 'r', outcome: 'solved', tenant: 'acme', type: 'turnstile', attempt: 1, completedAt: 2000, solution: { token: 't' }, provider: 'sim', providerTaskId: '777', trace: {} },
    priority: 'normal', consumer: 'w', now: 2000,
  });
  assert.deepEqual(await tr.report({ taskId: 'r', tenant: 'other', verdict: 'bad', windowMs: 60_000, now: 2100 }), { kind: 'no-task' });
  assert.deepEqual(await tr.report({ taskId: 'r', tenant: 'acme', verdict: 'bad', windowMs: 1_000, now: 9_000 }), { kind: 'refused', reason: 'too-late' });
  assert.equal((await tr.report({ taskId: 'r', tenant: 'acme', verdict: 'bad', windowMs: 60_000, now: 2200 })).kind, 'recorded');
  assert.deepEqual(await tr.report({ taskId: 'r', tenant: 'acme', verdict: 'good', windowMs: 60_000, now: 2300 }), { kind: 'refused', reason: 'duplicate' });
  const raw = (await redis.xrange(ks.reports, '-', '+')) as [string, string[]][];
  assert.equal(raw.length, 1);
  const d = decodeReportEntry(raw[0]![1]);
  assert.ok(d.ok);
  assert.deepEqual(d.value, { taskId: 'r', tenant: 'acme', type: 'turnstile', verdict: 'bad', provider: 'sim', providerTaskId: '777', at: 2200 });
  assert.ok((await events('r')).includes('reported'));
});

test('recordDelivery: status on the projection and an event per attempt', async () => {
  await tr.submit({ entry: entry('w'), now: 1000 });
  assert.equal(await tr.recordDelivery({ taskId: 'w', event: 'webhook-failed', attempt: 1, httpStatus: 500, now: 2000 }), true);
  assert.equal(await tr.recordDelivery({ taskId: 'w', event: 'webhook-delivered', attempt: 2, httpStatus: 200, now: 3000 }), true);
  assert.deepEqual(await redis.hmget(ks.task('w'), 'webhookStatus', 'webhookAttempts'), ['delivered', '2']);
  assert.deepEqual(await events('w'), ['submitted', 'webhook-failed', 'webhook-delivered']);
  assert.equal(await tr.recordDelivery({ taskId: 'gone', event: 'webhook-abandoned', attempt: 5, error: 'ECONNREFUSED', now: 4000 }), false);
});

interface AdmitInput extends SubmitAdmission { taskId: string; priority: Priority; now: number }
const admitInput = (taskId: string, over: Partial<AdmitInput> = {}): AdmitInput => ({
  taskId, priority: 'normal', openUntil: 100_000, ratePerSecond: 0, burst: 1, maxOpen: 0, maxQueueDepth: 0, now: 1000, ...over,
});
/** The producer's path (admission inside the submit call), reported as admitted or the refusal. */
async function admit({ taskId, priority, now, ...admission }: AdmitInput): Promise<{ admitted: true } | AdmitRefusal> {
  const r = await tr.admitAndSubmit({ entry: entry(taskId, { priority }), now, admission });
  return 'admitted' in r ? r : { admitted: true };
}

test('admission by mode: degraded takes high and critical, emergency only critical', async () => {
  assert.deepEqual(await admit(admitInput('1')), { admitted: true });
  await writeMode(redis, ks, { mode: 'degraded', since: 1, reason: 'test', by: 'test' });
  assert.equal((await readMode(redis, ks)).mode, 'degraded');
  assert.deepEqual(await admit(admitInput('2', { priority: 'low' })), { admitted: false, reason: 'mode', mode: 'degraded' });
  assert.deepEqual(await admit(admitInput('3', { priority: 'normal' })), { admitted: false, reason: 'mode', mode: 'degraded' });
  assert.deepEqual(await admit(admitInput('4', { priority: 'high' })), { admitted: true });
  await writeMode(redis, ks, { mode: 'emergency', since: 2, reason: 'test', by: 'test' });
  assert.deepEqual(await admit(admitInput('5', { priority: 'high' })), { admitted: false, reason: 'mode', mode: 'emergency' });
  assert.deepEqual(await admit(admitInput('6', { priority: 'critical' })), { admitted: true });
});

test('admission: queue depth cap, tenant open cap (expired members drop out), token bucket', async () => {
  await tr.submit({ entry: entry('q1'), now: 1000 });
  await tr.submit({ entry: entry('q2'), now: 1000 });
  assert.deepEqual(await admit(admitInput('x', { maxQueueDepth: 2 })), { admitted: false, reason: 'queue-full', depth: 2 });
  assert.deepEqual(await admit(admitInput('x', { maxQueueDepth: 3 })), { admitted: true });

  await redis.del(ks.openTasks('acme'));
  assert.deepEqual(await admit(admitInput('o1', { maxOpen: 2, openUntil: 5_000 })), { admitted: true });
  assert.deepEqual(await admit(admitInput('o2', { maxOpen: 2, openUntil: 50_000 })), { admitted: true });
  assert.deepEqual(await admit(admitInput('o3', { maxOpen: 2 })), { admitted: false, reason: 'tenant-full', open: 2 });
  assert.deepEqual(await admit(admitInput('o3', { maxOpen: 2, now: 6_000 })), { admitted: true }, 'o1 is past its deadline');
  await redis.zrem(ks.openTasks('acme'), 'o2'); // what the results dispatcher does when o2 finishes
  assert.equal(await adm.openCount('acme', 6_000), 1);

  const rl = (taskId: string, now: number) => admit(admitInput(taskId, { ratePerSecond: 2, burst: 2, now }));
  assert.deepEqual(await rl('r1', 10_000), { admitted: true });
  assert.deepEqual(await rl('r2', 10_000), { admitted: true });
  const refused = await rl('r3', 10_000);
  assert.equal(refused.admitted, false);
  assert.ok(!refused.admitted && refused.reason === 'rate-limited' && refused.retryAfterMs > 0 && refused.retryAfterMs <= 500);
  assert.deepEqual(await rl('r3', 10_500), { admitted: true }, 'a token came back after 500 ms');
  assert.equal(await redis.zscore(ks.openTasks('acme'), 'r3'), '100000');
});

test('admitAndSubmit: one call admits and submits; a refusal writes nothing, a replay consumes nothing', async () => {
  const adm1 = { openUntil: 100_000, ratePerSecond: 1, burst: 1, maxOpen: 0, maxQueueDepth: 0 };
  const first = await tr.admitAndSubmit({ entry: entry('a1'), idempotencyKey: 'k1', now: 1000, admission: adm1 });
  assert.ok('created' in first && first.created);
  assert.equal((await readTask(redis, ks, 'a1'))?.status, 'queued');
  assert.equal(await redis.zscore(ks.openTasks('acme'), 'a1'), '100000', 'recorded as open');
  const lenBefore = await redis.xlen(ks.lane('normal'));
  const eventsBefore = await redis.xlen(ks.events);

  // The bucket (1 token) is empty: refused, and nothing of a2 exists anywhere.
  const refused = await tr.admitAndSubmit({ entry: entry('a2'), now: 1000, admission: adm1 });
  assert.ok('admitted' in refused && refused.reason === 'rate-limited' && refused.retryAfterMs > 0);
  assert.equal(await readTask(redis, ks, 'a2'), undefined);
  assert.equal(await redis.zscore(ks.openTasks('acme'), 'a2'), null);
  assert.equal(await redis.xlen(ks.lane('normal')), lenBefore);
  assert.equal(await redis.xlen(ks.events), eventsBefore);

  // A replay of k1 answers the first task at once, though the bucket is still empty.
  const replay = await tr.admitAndSubmit({ entry: entry('a3'), idempotencyKey: 'k1', now: 1000, admission: adm1 });
  assert.deepEqual(replay, { created: false, taskId: 'a1' });
  assert.equal(await redis.zscore(ks.openTasks('acme'), 'a3'), null, 'a replay is not an open task');
  assert.deepEqual(await tr.admitAndSubmit({ entry: entry('a4'), now: 2000, admission: adm1 }).then((r) => 'created' in r && r.created), true,
    'one token came back after 1 s: the replay had taken none');

  // The mode is checked against the entry's priority; the queue cap counts every lane.
  await writeMode(redis, ks, { mode: 'emergency', since: 1, reason: 'test', by: 'test' });
  assert.deepEqual(await tr.admitAndSubmit({ entry: entry('a5', { priority: 'high' }), now: 3000, admission: { ...adm1, ratePerSecond: 0 } }),
    { admitted: false, reason: 'mode', mode: 'emergency' });
  assert.ok(await tr.admitAndSubmit({ entry: entry('a6', { priority: 'critical' }), now: 3000, admission: { ...adm1, ratePerSecond: 0 } }).then((r) => 'created' in r && r.created));
  const depth = (await redis.xlen(ks.lane('normal'))) + (await redis.xlen(ks.lane('critical')));
  assert.deepEqual(await tr.admitAndSubmit({ entry: entry('a7', { priority: 'critical' }), now: 3000, admission: { ...adm1, ratePerSecond: 0, maxQueueDepth: depth } }),
    { admitted: false, reason: 'queue-full', depth });
  // submit() without admission ignores mode and caps.
  assert.ok((await tr.submit({ entry: entry('a8', { priority: 'low' }), now: 3000 })).created);
});

test('submitBatch: each task its own step in one call, in order; the call counts its own tasks against the queue cap', async () => {
  const adm = { openUntil: 100_000, ratePerSecond: 0, burst: 1, maxOpen: 0, maxQueueDepth: 0 };
  const calls = async () => [...(await redis.info('commandstats')).matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)]
    .reduce((n, m) => n + Number(m[1]), 0);
  await tr.submit({ entry: entry('b0'), now: 1000 });
  const before = await calls();
  const answers = await tr.submitBatch([
    { entry: entry('b1'), idempotencyKey: 'kb', projection: { source: 'rest', callbackUrl: 'https://cb.example/x' }, now: 1001, admission: adm },
    { entry: entry('b2'), idempotencyKey: 'kb', now: 1002, admission: adm }, // same key: b1's task
    { entry: entry('b0'), now: 1003 }, // exists
    { entry: entry('b3', { priority: 'high' }), now: 1004, admission: { ...adm, maxQueueDepth: 3 } }, // b0 + b1 + b3 fit
    { entry: entry('b4', { priority: 'low' }), now: 1005, admission: { ...adm, maxQueueDepth: 3 } }, // depth 3 counts b1 and b3
    { entry: entry('b5', { priority: 'low' }), now: 1006 }, // no admission: accepted
  ]);
  assert.equal(await calls() - before, 1, 'six submits, one script call');
  assert.equal(answers.length, 6);
  const [a1, a2, a3, a4, a5, a6] = answers;
  assert.ok(a1 && 'created' in a1 && a1.created && a1.taskId === 'b1');
  assert.deepEqual(a2, { created: false, taskId: 'b1' }, 'the second use of a key in the same call gets the first task');
  assert.ok(a3 instanceof Error && /b0 already exists/.test(a3.message), 'an existing task: an error for that task only');
  assert.ok(a4 && 'created' in a4 && a4.created);
  assert.deepEqual(a5, { admitted: false, reason: 'queue-full', depth: 3 });
  assert.ok(a6 && 'created' in a6 && a6.created);

  // What each accepted task got is what a call of its own writes.
  const b1 = await readTask(redis, ks, 'b1');
  assert.equal(b1?.status, 'queued');
  assert.equal(b1?.priority, 'normal');
  assert.equal(b1?.deadline, 50_000);
  assert.equal(b1?.createdAt, 1001);
  assert.equal(await redis.hget(ks.task('b1'), 'callbackUrl'), 'https://cb.example/x');
  assert.equal(await redis.hget(ks.task('b1'), 'entryId'), 'created' in a1 && a1.created ? a1.entryId : '?');
  assert.equal((await readTask(redis, ks, 'b3'))?.priority, 'high');
  assert.equal(await redis.xlen(ks.lane('high')), 1, 'b3 went to its own lane');
  assert.equal(await redis.xlen(ks.lane('low')), 1, 'b5 only: b4 was refused and wrote nothing');
  assert.equal(await readTask(redis, ks, 'b4'), undefined);
  assert.equal(await redis.get(ks.idem('acme', 'kb')), 'b1');
  assert.deepEqual(await events('b1'), ['submitted']);
  assert.deepEqual(await events('b2'), [], 'the replay wrote nothing');
});

test('submitTask: params of any text arrive byte for byte; an undecodable task in a call is refused alone', async () => {
  const text = 'quote " backslash \\ slash / tab \t nul \u0000 é 漢字 🧩 lone \ud800 end';
  const params = { websiteURL: 'https://example.com/?q=%E6%BC%A2', websiteKey: text, body: 'x'.repeat(200_000) };
  const r = await tr.submit({ entry: entry('u1', { params: params as never }), now: 1000 });
  assert.ok(r.created);
  const [read] = flattenReadReply(await redis.xreadgroup('GROUP', WORKERS_GROUP, 'w1', 'COUNT', 1, 'STREAMS', ks.lane('normal'), '>'));
  const fields = fieldsToObject(read?.fields ?? []);
  assert.deepEqual(JSON.parse(fields.params ?? 'null'), params, 'params round-trip through the JSON argument');

  // The script's own contract: one JSON argument per task; garbage answers -20 for that task only.
  const good = (id: string) => JSON.stringify([id, '1000', '0', '', '3', '0', '0', '1', '0', '0', '0', [], ['v', '1', 'task', id, 'type', 'turnstile', 'tenant', 'acme', 'priority', 'normal', 'deadline', '5000']]);
  const keys = [ks.events, ks.mode, ks.delayed, ...ks.lanes];
  for (const id of ['g1', 'g2', 'g3']) keys.push(ks.task(id), ks.idem('acme', '-'), ks.rate('acme'), ks.openTasks('acme'));
  const raw = (redis as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>).ss_submitTask!;
  const replies = await raw.call(redis, keys.length, ...keys, 0, ks.lanes.length, good('g1'), '{"not": [json', good('g3')) as [number, string][];
  assert.equal(replies[0]![0], 1);
  assert.equal(replies[1]![0], -20);
  assert.equal(replies[2]![0], 1);
  assert.equal((await readTask(redis, ks, 'g3'))?.status, 'queued');
  assert.equal(await redis.exists(ks.task('g2')), 0);

  // Decodable but wrong: a null item, a lane index out of range. Refused alone, nothing written.
  const keys2 = [ks.events, ks.mode, ks.delayed, ...ks.lanes];
  for (const id of ['h1', 'h2', 'h6', 'h3']) keys2.push(ks.task(id), ks.idem('acme', '-'), ks.rate('acme'), ks.openTasks('acme'));
  const nullTtl = JSON.parse(good('h1')) as unknown[];
  nullTtl[2] = null;
  const laneZero = JSON.parse(good('h2')) as unknown[];
  laneZero[4] = '0';
  const notANumber = JSON.parse(good('h6')) as unknown[];
  notANumber[1] = 'soon';
  const more = await raw.call(redis, keys2.length, ...keys2, 0, ks.lanes.length,
    JSON.stringify(nullTtl), JSON.stringify(laneZero), JSON.stringify(notANumber), good('h3')) as [number, string][];
  assert.deepEqual(more.map((r) => r[0]), [-20, -20, -20, 1]);
  assert.match(String(more[2]![1]), /item 2 is not a number/);
  assert.equal(await redis.type(ks.delayed), 'none', 'lane 0 would have been the delayed set');

  // A priority outside the lanes, through Transitions: that task is refused, with a reason.
  const bogus = await tr.submitBatch([{ entry: entry('h4', { priority: 'bogus' as Priority }), now: 1000 }, { entry: entry('h5'), now: 1000 }]);
  assert.ok(bogus[0] instanceof Error && /no such lane/.test(bogus[0].message), String(bogus[0]));
  assert.ok(bogus[1] && 'created' in bogus[1] && bogus[1].created);
});

test('submitBatch: a call that fails part-way fails every task of it, though the tasks before the failure exist; a retry with the same key gets them', async () => {
  const adm = { openUntil: 100_000, ratePerSecond: 0, burst: 1, maxOpen: 0, maxQueueDepth: 0 };
  await redis.set(ks.openTasks('broken'), 'not a sorted set'); // the second task's admission write fails
  const answers = await tr.submitBatch([
    { entry: entry('p1'), idempotencyKey: 'kp1', now: 1000, admission: adm },
    { entry: entry('p2', { tenant: 'broken' }), now: 1000, admission: adm },
    { entry: entry('p3'), idempotencyKey: 'kp3', now: 1000, admission: adm },
  ]);
  assert.ok(answers.every((a) => a instanceof Error && /WRONGTYPE/.test(a.message)), 'the whole call failed');
  assert.equal((await readTask(redis, ks, 'p1'))?.status, 'queued', 'written before the failure, answered as failed');
  assert.equal(await readTask(redis, ks, 'p3'), undefined, 'not reached');
  const retried = await tr.submitBatch([
    { entry: entry('p1-retry'), idempotencyKey: 'kp1', now: 2000, admission: adm },
    { entry: entry('p3-retry'), idempotencyKey: 'kp3', now: 2000, admission: adm },
  ]);
  assert.deepEqual(retried[0], { created: false, taskId: 'p1' }, 'the retry finds the task instead of a second one');
  assert.ok(retried[1] && 'created' in retried[1] && retried[1].created);
  assert.equal(await redis.xlen(ks.lane('normal')), 2, 'p1 and p3-retry: no duplicate');
});

test('dispatchResults: counts, open-task release, webhooks of tasks with a callback, and the ack, in one call', async () => {
  const results = ks.results;
  await redis.xgroup('CREATE', results, 'producers', '0', 'MKSTREAM');
  const ids: string[] = [];
  for (const [task, tenant, outcome] of [['d1', 'acme', 'solved'], ['d2', 'acme', 'failed'], ['d3', 'globex', 'solved'], ['d4', 'acme', 'solved']] as const) {
    await tr.submit({ entry: entry(task, { tenant }), now: 1000, projection: task === 'd1' || task === 'd3' ? { callbackUrl: 'https://cb.example/x' } : {} });
    await redis.zadd(ks.openTasks(tenant), 9_999, task);
    ids.push(await redis.xadd(results, '*', 'task', task, 'tenant', tenant, 'outcome', outcome) as string);
  }
  ids.push(await redis.xadd(results, '*', 'garbage', '1') as string); // undecodable: acked, not counted
  await redis.xreadgroup('GROUP', 'producers', 'p1', 'COUNT', 10, 'STREAMS', results, '>');
  const calls = async () => Number(/cmdstat_evalsha:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);
  const before = await calls();
  const done = await tr.dispatchResults({
    group: 'producers', now: 5_000, undecodable: [ids[4]!],
    results: [
      { entryId: ids[0]!, taskId: 'd1', outcome: 'solved', tenant: 'acme' }, { entryId: ids[1]!, taskId: 'd2', outcome: 'failed', tenant: 'acme' },
      { entryId: ids[2]!, taskId: 'd3', outcome: 'solved', tenant: 'globex' }, { entryId: ids[3]!, taskId: 'd4', outcome: 'solved', tenant: 'acme' },
    ],
  });
  assert.ok(await calls() - before <= 1, 'one script call');
  assert.deepEqual(done, { handled: 4, webhooks: 2 });
  assert.deepEqual(await redis.zrangebyscore(ks.webhooks, '-inf', '+inf', 'WITHSCORES'), ['d1', '5000', 'd3', '5000']);
  assert.deepEqual(await redis.hgetall(ks.stats), { solved: '3', failed: '1', 't:acme:solved': '2', 't:acme:failed': '1', 't:globex:solved': '1' });
  assert.equal(await redis.zcard(ks.openTasks('acme')), 0);
  assert.equal(await redis.zcard(ks.openTasks('globex')), 0);
  assert.equal((await redis.xpending(results, 'producers') as [number])[0], 0, 'every entry acked, the garbage one too');
});

test('numeric ids: all digits, strictly increasing, below 2^53, seeded by the clock', async () => {
  const now = Date.now();
  const ids: string[] = [];
  for (let i = 0; i < 50; i++) ids.push(await adm.allocateNumericId(now));
  for (const id of ids) assert.match(id, /^\d+$/);
  for (let i = 1; i < ids.length; i++) assert.ok(BigInt(ids[i]!) > BigInt(ids[i - 1]!));
  assert.ok(Number.isSafeInteger(Number(ids.at(-1))));
  assert.equal(ids[0], String(now * 1024));
  await redis.del(ks.idSeq); // a wiped Redis: the clock keeps ids ahead of the old ones
  assert.ok(BigInt(await adm.allocateNumericId(now + 1)) > BigInt(ids.at(-1)!));
});

test('claimWebhooks: due members only, leased so a second claim does not get them', async () => {
  await redis.zadd(ks.webhooks, 100, 'a', 200, 'b', 5_000, 'c');
  assert.deepEqual((await adm.claimWebhooks(1_000, 31_000, 10)).sort(), ['a', 'b']);
  assert.deepEqual(await adm.claimWebhooks(1_000, 31_000, 10), []);
  assert.deepEqual((await adm.claimWebhooks(40_000, 70_000, 10)).sort(), ['a', 'b', 'c']);
});
