import { test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { sleep, useRedis } from '@solvestream/testkit';
import { createLogger } from '@solvestream/core';
import {
  decodeEventEntry, decodeResultEntry, decodeTaskEntry, ensureWorkerGroups, flattenReadReply, keyspace, readTask,
  Transitions, WORKERS_GROUP, type TaskEntry,
} from '@solvestream/contracts';
import { Supervisor } from '../src/supervisor';
import { createSupervisorMetrics } from '../src/metrics';
import { buildOpsServer } from '../src/ops-server';

let redis: Redis;
const ks = keyspace({ prefix: 'sv' });
let tr: Transitions;
const logger = createLogger({ service: 'supervisor-test', level: 'silent' });
const LEASE = 150;

useRedis({
  setup: (client) => {
    redis = client;
    tr = new Transitions(redis, ks);
  },
  reset: async () => {
    await ensureWorkerGroups(redis, ks);
  },
});

/** The reclaim itself, without the hold (which has its own test below). */
const supervisor = (consumer = 'sup-1', maxFailures = 3, reclaimHoldMs = 0): Supervisor =>
  new Supervisor({ redis, keys: ks, transitions: tr, logger, consumer, leaseMs: LEASE, maxFailures, intervalMs: 50, consumerSweepMs: 0, consumerIdleMs: LEASE, reclaimHoldMs });

const entry = (taskId: string): TaskEntry => ({
  taskId, type: 'turnstile', params: { websiteURL: 'https://x.example', websiteKey: '0x4AAAAAAAB' }, tenant: 't',
  priority: 'normal', attempt: 1, submittedAt: 1, deadline: Date.now() + 600_000, trace: {},
});

/** A worker that reads and claims `n` entries, then dies (never acks). */
async function deadWorkerTakes(n: number, consumer = 'dead'): Promise<{ e: TaskEntry; id: string }[]> {
  const got = flattenReadReply(await redis.xreadgroup('GROUP', WORKERS_GROUP, consumer, 'COUNT', n, 'STREAMS', ks.lane('normal'), '>'));
  const out: { e: TaskEntry; id: string }[] = [];
  for (const g of got) {
    const d = decodeTaskEntry(g.fields ?? []);
    assert.ok(d.ok);
    await tr.claim({ entry: d.value, entryId: g.id, consumer, now: Date.now() });
    out.push({ e: d.value, id: g.id });
  }
  return out;
}

async function laneEntries(): Promise<TaskEntry[]> {
  const raw = (await redis.xrange(ks.lane('normal'), '-', '+')) as [string, string[]][];
  return raw.map(([, f]) => { const d = decodeTaskEntry(f); assert.ok(d.ok); return d.value; });
}

test('stalled entries are requeued with their checkpoint once the lease expires, not before', async () => {
  for (const id of ['A', 'B']) await tr.submit({ entry: entry(id), now: 1 });
  const taken = await deadWorkerTakes(2);
  await tr.checkpoint({ taskId: 'A', provider: 'sim', providerTaskId: '4242', attempt: 1, consumer: 'dead', now: 5 });
  const sup = supervisor();
  await sup.tick();
  assert.equal(sup.stats.reclaimed, 0, 'nothing reclaimed inside the lease');
  await sleep(LEASE + 50);
  await sup.tick();
  assert.equal(sup.stats.reclaimed, 2);
  const lane = await laneEntries();
  assert.deepEqual(lane.map((e) => [e.taskId, e.attempt]).sort(), [['A', 2], ['B', 2]]);
  assert.deepEqual(lane.find((e) => e.taskId === 'A')?.checkpoint?.providerTaskId, '4242');
  assert.equal(lane.find((e) => e.taskId === 'B')?.checkpoint, undefined);
  const pending = (await redis.xpending(ks.lane('normal'), WORKERS_GROUP)) as [number];
  assert.equal(pending[0], 0, 'old deliveries acked');
  assert.ok(taken.length === 2);
});

test('reclaim hold: a dead worker\'s claimed task without a checkpoint waits RECLAIM_HOLD_MS before its next delivery; a checkpointed one is requeued at once', async () => {
  for (const id of ['HA', 'HB']) await tr.submit({ entry: entry(id), now: 1 });
  await deadWorkerTakes(2);
  await tr.checkpoint({ taskId: 'HA', provider: 'sim', providerTaskId: '99', attempt: 1, consumer: 'dead', now: 5 });
  await sleep(LEASE + 50);
  const sup = supervisor('sup-h', 3, 600);
  await sup.tick();
  assert.equal(sup.stats.reclaimed, 2);
  assert.equal(sup.stats.held, 1);
  assert.deepEqual((await laneEntries()).map((e) => e.taskId), ['HA'], 'the checkpointed task is back at once');
  assert.ok(Number(await redis.zscore(ks.delayed, 'HB')) > Date.now(), 'the other waits in the delayed set');
  await sup.tick();
  assert.deepEqual((await laneEntries()).map((e) => e.taskId), ['HA'], 'still held');
  await sleep(650);
  await sup.tick();
  assert.deepEqual((await laneEntries()).map((e) => [e.taskId, e.attempt]).sort(), [['HA', 2], ['HB', 2]], 'delivered after the hold');
});

test('several supervisors at once never requeue an entry twice', async () => {
  const N = 200;
  for (let i = 0; i < N; i++) await tr.submit({ entry: entry(`T${i}`), now: 1 });
  await deadWorkerTakes(N);
  await sleep(LEASE + 50);
  const sups = [supervisor('sup-1'), supervisor('sup-2'), supervisor('sup-3')];
  await Promise.all(sups.map((s) => s.tick()));
  await Promise.all(sups.map((s) => s.tick()));
  const total = sups.reduce((a, s) => a + s.stats.reclaimed, 0);
  const lane = await laneEntries();
  console.log(`supervisors=3 stalled=${N} requeued=${total} laneEntries=${lane.length} perSupervisor=${sups.map((s) => s.stats.reclaimed).join('/')}`);
  assert.equal(total, N);
  assert.equal(lane.length, N);
  assert.equal(new Set(lane.map((e) => e.taskId)).size, N, 'one new delivery per task');
});

test('a task reclaimed too often is dead-lettered with its history; the client gets a failed result', async () => {
  await tr.submit({ entry: entry('D'), now: 1 });
  const sup = supervisor('sup-1', 2);
  for (let round = 0; round < 2; round++) {
    await deadWorkerTakes(1, `dead-${round}`);
    await sleep(LEASE + 50);
    await sup.tick();
  }
  assert.equal(sup.stats.deadLettered, 1);
  const view = await readTask(redis, ks, 'D');
  assert.equal(view?.status, 'failed');
  assert.equal(view?.errorCode, 'MAX_DELIVERIES_EXCEEDED');
  const results = (await redis.xrange(ks.results, '-', '+')) as [string, string[]][];
  assert.equal(results.length, 1);
  const r = decodeResultEntry(results[0]![1]);
  assert.ok(r.ok && r.value.outcome === 'failed');
  assert.equal(await redis.xlen(ks.deadLetter), 1);
});

test('due delayed retries are promoted without any new traffic', async () => {
  await tr.submit({ entry: entry('R'), now: 1 });
  const [t] = await deadWorkerTakes(1, 'w');
  await tr.requeue({ entry: t!.e, entryId: t!.id, consumer: 'w', mode: 'retry', reason: 'busy', maxFailures: 5, dueAt: Date.now() + 100, now: Date.now() });
  const sup = supervisor();
  await sup.start();
  try {
    await sleep(400);
    assert.equal(sup.stats.promoted, 1);
    assert.deepEqual((await laneEntries()).map((e) => e.attempt), [2]);
  } finally {
    await sup.close();
  }
});

test('poison entries held by a dead consumer are dead-lettered by the reclaim', async () => {
  await redis.xadd(ks.lane('normal'), '*', 'not', 'a task');
  await redis.xreadgroup('GROUP', WORKERS_GROUP, 'dead', 'STREAMS', ks.lane('normal'), '>');
  await sleep(LEASE + 50);
  const sup = supervisor();
  await sup.tick();
  assert.equal(sup.stats.poison, 1);
  assert.equal(await redis.xlen(ks.deadLetter), 1);
  assert.equal(await redis.xlen(ks.lane('normal')), 0);
});

test('consumers of dead workers are removed once their pending list is empty', async () => {
  await tr.submit({ entry: entry('C'), now: 1 });
  await deadWorkerTakes(1, 'gone');
  await redis.xreadgroup('GROUP', WORKERS_GROUP, 'idle-but-empty', 'STREAMS', ks.lane('normal'), '>');
  await sleep(LEASE + 50);
  const names = async () => ((await redis.xinfo('CONSUMERS', ks.lane('normal'), WORKERS_GROUP)) as string[][]).map((r) => r[1]);
  const sup = supervisor();
  await sup.tick(); // reclaims C (gone's PEL empties) and sweeps consumers
  await sleep(LEASE + 50);
  await sup.tick();
  const left = await names();
  assert.ok(!left.includes('gone') && !left.includes('idle-but-empty'), `left: ${left.join(',')}`);
  const ev = (await redis.xrange(ks.events, '-', '+')) as [string, string[]][];
  assert.ok(ev.map(([id, f]) => decodeEventEntry(id, f)).some((d) => d.ok && d.value.event === 'reclaimed'));
});

test('metrics: reclaim counters and lane gauges are served at /metrics', async () => {
  await tr.submit({ entry: entry('M'), now: 1 });
  await deadWorkerTakes(1);
  await sleep(LEASE + 50);
  const sup = supervisor();
  await sup.tick();
  const registry = createSupervisorMetrics({ instance: 's', redis, keys: ks, supervisor: () => sup });
  const app = buildOpsServer({ redis, keys: ks, transitions: tr, supervisor: sup, logger, instance: 's', registry });
  const text = (await app.inject({ url: '/metrics' })).body;
  assert.match(text, /solvestream_supervisor_reclaimed_total\{service="supervisor",instance="s"\} 1/);
  assert.match(text, /solvestream_stream_length\{lane="normal",service="supervisor",instance="s"\} 1/);
  await app.close();
});
