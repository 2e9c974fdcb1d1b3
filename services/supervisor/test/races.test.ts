/**
 * Tries to break DESIGN.md's guarantees where something outlives what it belongs to: a
 * lane delivery outliving its task's projection (the TTL after the outcome), a delayed
 * retry whose body cannot be delivered, an entry in the wrong lane held by a dead
 * worker, a consumer deleted while a woken worker reads. Each test failed before its
 * fix (2026-12-07, a review):
 *
 *   A2  a poison delayed body was removed from the set and nothing else: the task was
 *       neither delivered, nor delayed, nor dead-lettered (promoteTask dead-letters it)
 *   B   an entry in the wrong lane held by a dead worker stayed pending forever, re-claimed
 *       and skipped every lease (the reclaim treats it as poison, as the worker does)
 *   C1  a cancelled task, C2 an expired one, C3 a task whose late first result came from
 *       a frozen worker: once the projection expired, the delivery left in the lane was
 *       claimed as a new task (claimTask rebuilds a missing projection), solved, paid for
 *       and published a second time (the ending transition deletes the live delivery)
 *   C4  as C3, with the later attempt's retry waiting in `delayed`: promoted after the
 *       projection expired, it was solved again (completeTask removes it)
 *   D   the idle-consumer sweep's DELCONSUMER dropped entries a woken worker had read
 *       since the sweep looked: neither pending nor new, the task stranded
 *       (removeConsumer.lua checks and deletes in one step)
 *
 * A1 passed before: a promotion refused by Redis (over maxmemory) is tried again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { sleep, useRedis } from '@solvestream/testkit';
import { createLogger } from '@solvestream/core';
import {
  decodeResultEntry, decodeTaskEntry, encodeTaskEntry, ensureWorkerGroups, flattenReadReply, keyspace, readTask,
  Transitions, WORKERS_GROUP, type ResultEntry, type TaskEntry,
} from '@solvestream/contracts';
import { Supervisor } from '../src/supervisor';
import { removeIdleConsumers } from '../src/consumers';

let redis: Redis;
const ks = keyspace({ prefix: 'br' });
let tr: Transitions;
const logger = createLogger({ service: 'supervisor-break', level: 'silent' });
const LEASE = 150;

useRedis({
  setup: (client) => {
    redis = client;
    tr = new Transitions(redis, ks);
  },
  reset: async () => {
    await redis.config('SET', 'maxmemory', '0');
    await ensureWorkerGroups(redis, ks);
  },
});

const supervisor = (consumer = 'sup-1', maxFailures = 3, reclaimHoldMs = 0): Supervisor =>
  new Supervisor({ redis, keys: ks, transitions: tr, logger, consumer, leaseMs: LEASE, maxFailures, intervalMs: 50, consumerSweepMs: 3_600_000, reclaimHoldMs });

const entry = (taskId: string, priority: TaskEntry['priority'] = 'normal'): TaskEntry => ({
  taskId, type: 'turnstile', params: { websiteURL: 'https://x.example', websiteKey: '0x4AAAAAAAB' }, tenant: 't',
  priority, attempt: 1, submittedAt: 1, deadline: Date.now() + 600_000, trace: {},
});

async function read(consumer: string, lane = ks.lane('normal')): Promise<{ e: TaskEntry; id: string }[]> {
  const got = flattenReadReply(await redis.xreadgroup('GROUP', WORKERS_GROUP, consumer, 'COUNT', 10, 'STREAMS', lane, '>'));
  return got.map((g) => { const d = decodeTaskEntry(g.fields ?? []); assert.ok(d.ok); return { e: d.value, id: g.id }; });
}

async function resultsOf(taskId: string): Promise<string[]> {
  const raw = (await redis.xrange(ks.results, '-', '+')) as [string, string[]][];
  return raw.map(([, f]) => decodeResultEntry(f)).filter((d) => d.ok && d.value.taskId === taskId).map((d) => (d.ok ? d.value.outcome : ''));
}

/** Where is the task? A live task must be in a lane, in the delayed set, or terminal. */
async function whereIs(taskId: string): Promise<{ status?: string; laneEntries: number; delayed: boolean; body: boolean }> {
  let laneEntries = 0;
  for (const lane of ks.lanes) {
    const rows = (await redis.xrange(lane, '-', '+')) as [string, string[]][];
    laneEntries += rows.filter(([, f]) => f[f.indexOf('task') + 1] === taskId).length;
  }
  return {
    status: (await readTask(redis, ks, taskId))?.status,
    laneEntries,
    delayed: (await redis.zscore(ks.delayed, taskId)) !== null,
    body: (await redis.hexists(ks.delayedEntries, taskId)) === 1,
  };
}

test('A1 a due retry whose promotion fails transiently (Redis briefly over maxmemory) is not lost', async () => {
  await tr.submit({ entry: entry('P'), now: 1 });
  const [t] = await read('w');
  await tr.claim({ entry: t!.e, entryId: t!.id, consumer: 'w', now: Date.now() });
  await tr.requeue({ entry: t!.e, entryId: t!.id, consumer: 'w', mode: 'retry', reason: 'ERROR_NO_SLOT_AVAILABLE', maxFailures: 5, dueAt: Date.now() - 1, now: Date.now() });
  const sup = supervisor();
  await redis.config('SET', 'maxmemory-policy', 'noeviction');
  await redis.config('SET', 'maxmemory', '1'); // a memory spike: write scripts refused for one tick
  await sup.tick();
  await redis.config('SET', 'maxmemory', '0'); // memory is back
  await sup.tick();
  await sup.tick();
  const w = await whereIs('P');
  assert.ok(w.laneEntries === 1 || w.delayed, `retry stranded: ${JSON.stringify(w)}`);
});

test('A2 a delayed retry whose body names no lane, or does not decode, is dead-lettered, not silently dropped', async () => {
  for (const [id, spoil] of [
    ['Q', (f: string[]) => { f[f.indexOf('priority') + 1] = 'urgent'; return JSON.stringify(f); }], // unknown priority
    ['R', () => '{"not": "a field list"'], // not JSON at all
    ['S', (f: string[]) => JSON.stringify([...f, 'n', { nested: true }])], // an item that is not a string
  ] as const) {
    await tr.submit({ entry: entry(id), now: 1 });
    const [t] = await read('w');
    await tr.claim({ entry: t!.e, entryId: t!.id, consumer: 'w', now: Date.now() });
    await tr.requeue({ entry: t!.e, entryId: t!.id, consumer: 'w', mode: 'retry', reason: 'busy', maxFailures: 5, dueAt: Date.now() - 1, now: Date.now() });
    // A garbage body (restored from an older archive, edited by hand).
    await redis.hset(ks.delayedEntries, id, spoil(JSON.parse((await redis.hget(ks.delayedEntries, id))!) as string[]));
  }
  const sup = supervisor();
  await sup.tick();
  await sup.tick();
  assert.equal(sup.stats.poison, 3);
  assert.equal(sup.stats.errors, 0, 'nothing left to fail every tick');
  const dead = (await redis.xrange(ks.deadLetter, '-', '+')) as [string, string[]][];
  assert.deepEqual(dead.map(([, f]) => f[f.indexOf('task') + 1]).sort(), ['Q', 'R', 'S']);
  for (const [, f] of dead) assert.equal(f[f.indexOf('kind') + 1], 'poison');
  for (const id of ['Q', 'R', 'S']) {
    assert.deepEqual(await whereIs(id), { status: 'queued', laneEntries: 0, delayed: false, body: false }, `${id}: only in dead-letter (the expiry sweep ends it)`);
    const events = (await redis.xrange(ks.events, '-', '+')) as [string, string[]][];
    assert.ok(events.some(([, f]) => f.includes(id) && f.includes('dead-lettered')), `${id}: a dead-lettered event`);
  }
});

test('B an entry whose priority does not match its lane, held by a dead worker, is dead-lettered by the reclaim', async () => {
  // A decodable entry in the wrong lane (the worker treats it as poison: worker.ts accept()).
  await redis.xadd(ks.lane('high'), '*', ...encodeTaskEntry(entry('X', 'normal')));
  await read('dead', ks.lane('high')); // the worker read it and died before dead-lettering it
  const sup = supervisor();
  for (let i = 0; i < 3; i++) {
    await sleep(LEASE + 50);
    await sup.tick();
  }
  const pend = (await redis.xpending(ks.lane('high'), WORKERS_GROUP, '-', '+', 10)) as [string, string, number, number][];
  assert.equal(await redis.xlen(ks.deadLetter), 1, 'poison entry dead-lettered');
  assert.equal(pend.length, 0, 'nothing left pending');
});

/** A finished task's result as a worker would send it (`attempt`, solved with `token`, or failed). */
const outcome = (taskId: string, attempt: number, token?: string): ResultEntry => (token
  ? { taskId, outcome: 'solved', tenant: 't', type: 'turnstile', attempt, completedAt: Date.now(), solution: { token }, trace: {} }
  : { taskId, outcome: 'failed', tenant: 't', type: 'turnstile', attempt, completedAt: Date.now(), errorCode: 'ERROR_CAPTCHA_UNSOLVABLE', errorMessage: 'deadline', trace: {} });

/**
 * What a worker does with whatever delivery is left in the lane once the projection
 * has expired: read it, claim it and, if the claim lets it proceed, publish `result`.
 * Returns whether it proceeded (it would have paid for a solve).
 */
async function solveWhatIsLeft(tr1: Transitions, consumer: string, result: ResultEntry): Promise<boolean> {
  const [t] = await read(consumer);
  const claim = t ? await tr1.claim({ entry: t.e, entryId: t.id, consumer, now: Date.now() }) : { proceed: false as const };
  if (claim.proceed) await tr1.complete({ result: { ...result, attempt: t!.e.attempt }, priority: 'normal', entryId: t!.id, consumer, now: Date.now() });
  return claim.proceed;
}

test('C1 a cancelled task whose lane entry outlives the projection TTL is not solved and published a second time', async () => {
  const tr1 = new Transitions(redis, ks, { resultTtlSeconds: 1 });
  await tr1.submit({ entry: entry('K'), now: Date.now() });
  const c = await tr1.cancel({ taskId: 'K', tenant: 't', reason: 'client cancelled', now: Date.now() });
  assert.equal(c.kind, 'done');
  await sleep(1_200); // projection TTL (a backlog in the lane outlives it)
  assert.equal(await solveWhatIsLeft(tr1, 'w', outcome('K', 1, 'tok')), false, 'a worker started (and paid for) a cancelled task');
  assert.deepEqual(await resultsOf('K'), ['cancelled'], 'exactly one result');
});

test('C2 an expired task whose lane entry outlives the projection TTL gets no second outcome', async () => {
  const tr1 = new Transitions(redis, ks, { resultTtlSeconds: 1 });
  const e = { ...entry('E'), deadline: Date.now() - 10_000 };
  await tr1.submit({ entry: e, now: Date.now() - 20_000 });
  const x = await tr1.expire({ taskId: 'E', graceMs: 1_000, now: Date.now() }); // sweeper / read path
  assert.equal(x.kind, 'done');
  await sleep(1_200);
  // solve.ts: past the deadline the worker completes `failed` (deadlineFailure)
  assert.equal(await solveWhatIsLeft(tr1, 'w', outcome('E', 1)), false);
  assert.deepEqual(await resultsOf('E'), ['failed'], 'exactly one terminal outcome');
});

test('C3 a frozen worker completes first; the reclaimed delivery, claimed after the projection TTL, gets no second outcome', async () => {
  const tr1 = new Transitions(redis, ks, { resultTtlSeconds: 1 });
  await tr1.submit({ entry: entry('F'), now: Date.now() });
  const [t] = await read('w0');
  await tr1.claim({ entry: t!.e, entryId: t!.id, consumer: 'w0', now: Date.now() });
  await tr1.checkpoint({ taskId: 'F', provider: 'sim', providerTaskId: '77', attempt: 1, consumer: 'w0', now: Date.now() });
  await sleep(LEASE + 50); // w0 frozen past its lease
  await supervisor().tick(); // reclaimed: attempt 2 in the lane (behind a backlog)
  const first = await tr1.complete({ result: outcome('F', 1, 'a'), priority: 'normal', entryId: t!.id, consumer: 'w0', now: Date.now() }); // w0 wakes and publishes first: fine, first result wins
  assert.equal(first.published, true);
  await sleep(1_200);
  assert.equal(await solveWhatIsLeft(tr1, 'w2', outcome('F', 2, 'b')), false);
  assert.deepEqual(await resultsOf('F'), ['solved'], 'exactly one result');
});

test('C4 a frozen worker completes first while the later attempt waits in delayed; promoted after the projection TTL, it is not solved again', async () => {
  const tr1 = new Transitions(redis, ks, { resultTtlSeconds: 1 });
  await tr1.submit({ entry: entry('H'), now: Date.now() });
  const [t] = await read('w0');
  await tr1.claim({ entry: t!.e, entryId: t!.id, consumer: 'w0', now: Date.now() });
  await sleep(LEASE + 50); // w0 frozen past its lease
  await supervisor().tick(); // reclaimed: attempt 2 in the lane
  const [t2] = await read('w2');
  assert.equal(t2!.e.attempt, 2);
  await tr1.claim({ entry: t2!.e, entryId: t2!.id, consumer: 'w2', now: Date.now() });
  // attempt 2 meets a busy provider: its retry (attempt 3) waits in delayed
  await tr1.requeue({ entry: t2!.e, entryId: t2!.id, consumer: 'w2', mode: 'retry', reason: 'ERROR_NO_SLOT_AVAILABLE', maxFailures: 5, dueAt: Date.now() + 1_300, now: Date.now() });
  const first = await tr1.complete({ result: outcome('H', 1, 'a'), priority: 'normal', entryId: t!.id, consumer: 'w0', now: Date.now() }); // w0 wakes and publishes: first result wins
  assert.equal(first.published, true);
  assert.equal(await redis.zscore(ks.delayed, 'H'), null, 'the retry is gone with the outcome');
  await sleep(1_400); // the projection expired, the retry would be due
  await supervisor().tick(); // the retry's promotion, were it still there
  assert.equal(await solveWhatIsLeft(tr1, 'w3', outcome('H', 3, 'c')), false, 'a worker would solve (and pay for) it again');
  assert.deepEqual(await resultsOf('H'), ['solved'], 'exactly one result');
});

test('D the idle-consumer sweep never drops entries a consumer received between its check and DELCONSUMER', async () => {
  await redis.xgroup('CREATECONSUMER', ks.lane('normal'), WORKERS_GROUP, 'ghost'); // consumer exists, nothing pending
  await tr.submit({ entry: entry('G'), now: 1 });
  await sleep(20);
  // The ghost (a worker waking from a long freeze) reads after XINFO CONSUMERS nominated it, just before the delete.
  const removeAfterGhostRead = async (lane: string, name: string): Promise<boolean> => {
    await redis.xreadgroup('GROUP', WORKERS_GROUP, 'ghost', 'COUNT', 1, 'STREAMS', ks.lane('normal'), '>');
    return tr.removeConsumer(lane, name);
  };
  assert.equal(await removeIdleConsumers(redis, ks, 10, logger, 'sup-1', removeAfterGhostRead), 0, 'the ghost is kept');
  assert.equal(((await redis.xpending(ks.lane('normal'), WORKERS_GROUP)) as [number])[0], 1, 'its entry still pending');
  const sup = supervisor();
  await sleep(LEASE + 50);
  await sup.tick();
  assert.equal(sup.stats.reclaimed, 1, 'and reclaimed once its lease lapsed');
  assert.equal((await whereIs('G')).laneEntries, 1);
  // An idle consumer with nothing pending is still removed.
  await redis.xgroup('CREATECONSUMER', ks.lane('normal'), WORKERS_GROUP, 'gone');
  await sleep(20);
  assert.equal(await removeIdleConsumers(redis, ks, 10, logger, 'sup-1', (l, n) => tr.removeConsumer(l, n)), 2, 'gone and the emptied ghost');
});
