/**
 * The worker in-process against a real redis-server and the real simulator.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { startRedis, waitFor, type RedisServer } from '@solvestream/testkit';
import { createLogger } from '@solvestream/core';
import {
  decodeResultEntry,
  encodeTaskEntry,
  ensureWorkerGroups,
  keyspace,
  promoteDue,
  readTask,
  Transitions,
  WORKERS_GROUP,
  type TaskEntry,
  type TaskSpec,
} from '@solvestream/contracts';
import { buildWorker } from '../src/app';
import { ProviderClient } from '../src/provider/client';
import type { Worker } from '../src/worker';
import { CheckpointKeeper } from '../src/checkpoint-keeper';
import { KEY, startSim, type Sim } from './helpers';

let server: RedisServer;
let sim: Sim;
let redis: Redis;
const ks = keyspace();
let tr: Transitions;
const logger = createLogger({ service: 'worker-test', level: 'silent' });
const running: { worker: Worker; conns: Redis[] }[] = [];

before(async () => {
  server = await startRedis();
  sim = await startSim();
  redis = new Redis(server.url);
  tr = new Transitions(redis, ks);
});
async function stopWorkers(): Promise<void> {
  while (running.length) {
    const r = running.pop()!;
    await r.worker.close(0);
    r.conns.forEach((c) => c.disconnect());
  }
}
after(async () => {
  clearInterval(promoter);
  await stopWorkers();
  redis.disconnect();
  await sim.stop();
  await server.stop();
});
beforeEach(async () => {
  await stopWorkers();
  await redis.flushall();
  await ensureWorkerGroups(redis, ks);
  await sim.reset();
});

/** Stands in for the supervisor's promotion loop (delayed retries → lanes). */
let promoter: NodeJS.Timeout | undefined;
function startPromoter(): void {
  promoter ??= setInterval(() => void promoteDue(redis, ks, tr, Date.now()).catch(() => undefined), 50);
}

async function startWorker(concurrency = 50, name = 'w1', extra: { checkpointCheckMs?: number; leaseMs?: number } = {}): Promise<Worker> {
  startPromoter();
  const conn = new Redis(server.url, { maxRetriesPerRequest: null });
  const blocking = new Redis(server.url, { maxRetriesPerRequest: null });
  const { worker } = buildWorker({
    redis: conn, blockingRedis: blocking, logger, consumer: name,
    provider: { name: 'sim', baseUrl: sim.url, key: KEY, timeoutMs: 2000 },
    concurrency, blockMs: 200, pollIntervalMs: 50, pollFirstDelayScale: 0.005, ...extra,
  });
  await worker.start();
  running.push({ worker, conns: [conn, blocking] });
  return worker;
}

let seq = 0;
function entry(spec: TaskSpec = { type: 'recaptcha_v2', params: { websiteURL: `https://t${++seq}.example/`, websiteKey: '6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-' } }, over: Partial<TaskEntry> = {}): TaskEntry {
  return {
    taskId: `task-${++seq}`, type: spec.type, params: spec.params, tenant: 't', priority: 'normal', attempt: 1,
    submittedAt: Date.now(), deadline: Date.now() + 60_000, trace: {}, ...over,
  } as TaskEntry;
}

async function submitAll(entries: TaskEntry[]): Promise<void> {
  for (const e of entries) await tr.submit({ entry: e, now: Date.now() });
}

async function waitDone(ids: string[], timeoutMs = 20_000) {
  return waitFor(`${ids.length} tasks to finish`, async () => {
    const views = await Promise.all(ids.map((id) => readTask(redis, ks, id)));
    return views.every((v) => v && ['solved', 'failed'].includes(v.status)) ? views.map((v) => v!) : undefined;
  }, { timeoutMs });
}

test('solves many tasks concurrently without exceeding the in-flight bound', async () => {
  await sim.faults({ slow: { delayMs: 40, on: 'submit' } });
  const worker = await startWorker(3);
  let maxInFlight = 0;
  const sampler = setInterval(() => (maxInFlight = Math.max(maxInFlight, worker.stats.inFlight)), 2);
  const entries = Array.from({ length: 15 }, () => entry());
  await submitAll(entries);
  const views = await waitDone(entries.map((e) => e.taskId));
  clearInterval(sampler);
  assert.ok(views.every((v) => v.status === 'solved' && v.solution?.token));
  assert.equal(maxInFlight, 3, 'the bound was reached and never exceeded');
  assert.equal((await sim.stats()).submits, 15);
  assert.equal(await redis.xlen(ks.results), 15);
});

test('an idle worker woken by a burst over every lane stays within its bound (blocking reads of COUNT free/lanes)', async () => {
  await sim.faults({ slow: { delayMs: 40, on: 'submit' } });
  const worker = await startWorker(10);
  await new Promise((r) => setTimeout(r, 300)); // idle: blocked on the empty lanes
  let maxInFlight = 0;
  const sampler = setInterval(() => (maxInFlight = Math.max(maxInFlight, worker.stats.inFlight)), 2);
  const priorities = ['critical', 'high', 'normal', 'low'] as const;
  const entries = Array.from({ length: 40 }, (_, i) => entry(undefined, { priority: priorities[i % 4] }));
  await Promise.all(entries.map((e) => tr.submit({ entry: e, now: Date.now() })));
  const views = await waitDone(entries.map((e) => e.taskId));
  clearInterval(sampler);
  assert.ok(views.every((v) => v.status === 'solved'));
  assert.ok(maxInFlight <= 10, `at most 10 at once (saw ${maxInFlight})`);
  assert.equal((await sim.stats()).submits, 40, 'each paid once');
});

test('a task with a provider checkpoint is resumed by polling, never submitted again', async () => {
  const e = entry();
  await tr.submit({ entry: e, now: Date.now() });
  // A worker that died after the provider accepted the task: it read, claimed, checkpointed.
  const read = (await redis.xreadgroup('GROUP', WORKERS_GROUP, 'dead', 'STREAMS', ks.lane('normal'), '>')) as [string, [string, string[]][]][];
  const entryId = read[0]?.[1][0]?.[0];
  assert.ok(entryId);
  await tr.claim({ entry: e, entryId, consumer: 'dead', now: Date.now() });
  const providerTaskId = await new ProviderClient({ name: 'sim', baseUrl: sim.url, key: KEY }).submit(e as TaskSpec);
  await tr.checkpoint({ taskId: e.taskId, provider: 'sim', providerTaskId, attempt: 1, consumer: 'dead', now: Date.now() });
  // The supervisor hands it back as a new delivery (what reclaim does).
  await redis.xack(ks.lane('normal'), WORKERS_GROUP, entryId);
  await redis.xadd(ks.lane('normal'), '*', ...encodeTaskEntry({ ...e, attempt: 2, checkpoint: { provider: 'sim', providerTaskId, at: Date.now() } }));

  await startWorker();
  const [view] = await waitDone([e.taskId]);
  assert.equal(view!.status, 'solved');
  assert.equal(view!.providerTaskId, providerTaskId);
  const st = await sim.stats();
  assert.equal(st.submits, 1, 'the provider saw one submit in all');
  assert.equal(st.charges, 1, 'and charged once');
});

test('poison entries go to dead-letter with the reason; the worker keeps solving', async () => {
  await startWorker();
  await redis.xadd(ks.lane('normal'), '*', 'hello', 'world');
  await redis.xadd(ks.lane('high'), '*', 'v', '1', 'task', 'px', 'type', 'funcaptcha', 'tenant', 't', 'priority', 'high', 'attempt', '1', 'submittedAt', '1', 'deadline', '2', 'params', '{}');
  await redis.xadd(ks.lane('low'), '*', 'v', '1', 'task', 'py', 'type', 'image', 'tenant', 't', 'priority', 'high', 'attempt', '1', 'submittedAt', '1', 'deadline', '2', 'params', '{"body":"x"}');
  const good = entry();
  await submitAll([good]);
  const [view] = await waitDone([good.taskId]);
  assert.equal(view!.status, 'solved');
  const dead = await waitFor('3 dead letters', async () => {
    const d = (await redis.xrange(ks.deadLetter, '-', '+')) as [string, string[]][];
    return d.length === 3 ? d : undefined;
  });
  const reasons = dead.map(([, f]) => f[f.indexOf('reason') + 1]).sort();
  assert.match(reasons.join('\n'), /unsupported entry version/);
  assert.match(reasons.join('\n'), /unknown task type "funcaptcha"/);
  assert.match(reasons.join('\n'), /params.body/);
  for (const lane of ks.lanes) assert.equal(((await redis.xpending(lane, WORKERS_GROUP)) as [number])[0], 0);
});

test('permanent provider errors fail the task with the provider code; the client gets a final result', async () => {
  await sim.faults({ unsolvableRate: 1 });
  await startWorker();
  const e = entry();
  await submitAll([e]);
  const [view] = await waitDone([e.taskId]);
  assert.equal(view!.status, 'failed');
  assert.equal(view!.errorCode, 'ERROR_CAPTCHA_UNSOLVABLE');
  const results = (await redis.xrange(ks.results, '-', '+')) as [string, string[]][];
  const r = decodeResultEntry(results[0]?.[1] ?? []);
  assert.ok(r.ok && r.value.outcome === 'failed');
});

test('transient submit errors are retried; the task is solved and paid once', async () => {
  await sim.faults({ errors: { codes: ['ERROR_SERVER_ERROR'], on: 'submit', times: 2 } });
  await startWorker();
  const e = entry();
  await submitAll([e]);
  const [view] = await waitDone([e.taskId]);
  assert.equal(view!.status, 'solved');
  const st = await sim.stats();
  assert.equal(st.submits, 3);
  assert.equal(st.acceptedSubmits, 1);
  assert.equal(st.charges, 1);
  assert.equal(view!.attempt, 3, 'each retry was a new delivery through the delayed set');
});

/** A worker against a simulator with real solve times (15 s for reCAPTCHA v2), so a task is still polling when something happens to it. */
async function withSlowSim(run: (slowSim: Sim, worker: Worker) => Promise<void>): Promise<void> {
  const slowSim = await startSim({ SIM_LATENCY_SCALE: '1' });
  try {
    startPromoter();
    const conn = new Redis(server.url, { maxRetriesPerRequest: null });
    const blocking = new Redis(server.url, { maxRetriesPerRequest: null });
    const { worker } = buildWorker({
      redis: conn, blockingRedis: blocking, logger, consumer: 'w-lease',
      provider: { name: 'sim', baseUrl: slowSim.url, key: KEY, timeoutMs: 2000 },
      concurrency: 5, blockMs: 200, pollIntervalMs: 50, pollFirstDelayScale: 0.005, leaseMs: 900,
    });
    await worker.start();
    running.push({ worker, conns: [conn, blocking] });
    await run(slowSim, worker);
  } finally {
    await slowSim.stop();
  }
}

/** Waits until the worker has lost the task, then checks it stopped polling it. */
async function assertStoppedPolling(slowSim: Sim, worker: Worker, pollsBefore: number): Promise<void> {
  await waitFor('the task to end as lost', () => worker.stats.lost === 1 && worker.stats.inFlight === 0, { timeoutMs: 5000 });
  await new Promise((r) => setTimeout(r, 150)); // a poll already on the wire lands first
  const pollsAtEnd = (await slowSim.stats()).polledIds;
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await slowSim.stats()).polledIds, pollsAtEnd, 'no poll for it after the loss');
  assert.ok(pollsAtEnd > pollsBefore, 'it was polling until then');
  assert.equal(worker.stats.solved + worker.stats.failed, 0);
}

test('a renewal that finds the entry reclaimed stops the task here: no more polls, no result from this worker', async () => {
  await withSlowSim(async (slowSim, worker) => {
    const e = entry();
    await submitAll([e]);
    await waitFor('the checkpoint', async () => (await readTask(redis, ks, e.taskId))?.providerTaskId);
    const pollsBefore = (await slowSim.stats()).polledIds;
    // What a reclaim does to the old delivery: it is acked (its new delivery goes elsewhere).
    const pending = (await redis.xpending(ks.lane('normal'), WORKERS_GROUP, '-', '+', 10)) as [string][];
    assert.equal(pending.length, 1);
    await redis.xack(ks.lane('normal'), WORKERS_GROUP, pending[0]![0]);
    await assertStoppedPolling(slowSim, worker, pollsBefore);
    assert.equal(await redis.xlen(ks.results), 0, 'this worker published nothing');
  });
});

test('a task cancelled while the worker polls it: its delivery is deleted, the next renewal stops the task, one result (cancelled)', async () => {
  await withSlowSim(async (slowSim, worker) => {
    const e = entry();
    await submitAll([e]);
    await waitFor('the checkpoint', async () => (await readTask(redis, ks, e.taskId))?.providerTaskId);
    const pollsBefore = (await slowSim.stats()).polledIds;
    assert.equal((await tr.cancel({ taskId: e.taskId, tenant: 't', reason: 'client cancelled', now: Date.now() })).kind, 'done');
    assert.equal(await redis.xlen(ks.lane('normal')), 0, 'the delivery is gone from the lane');
    await assertStoppedPolling(slowSim, worker, pollsBefore);
    const results = (await redis.xrange(ks.results, '-', '+')) as [string, string[]][];
    assert.deepEqual(results.map(([, f]) => decodeResultEntry(f)).map((d) => d.ok && d.value.outcome), ['cancelled']);
    assert.equal(((await redis.xpending(ks.lane('normal'), WORKERS_GROUP)) as [number])[0], 0, 'nothing left pending');
  });
});

test('a provider that never answers: the task fails at its deadline', async () => {
  await sim.faults({ outage: { mode: 'refuse', on: 'submit' } });
  await startWorker();
  const e = entry(undefined, { deadline: Date.now() + 1500 });
  await submitAll([e]);
  const [view] = await waitDone([e.taskId]);
  assert.equal(view!.status, 'failed');
  assert.equal(view!.errorCode, 'ERROR_CAPTCHA_UNSOLVABLE');
  assert.match(view!.errorMessage ?? '', /deadline/);
});

test('Redis wiped under a running worker: groups are recreated and new tasks are solved', async () => {
  await startWorker();
  const first = entry();
  await submitAll([first]);
  await waitDone([first.taskId]);
  await redis.flushall();
  // The worker's next read answers NOGROUP; it recreates the groups. Submit once they exist.
  await waitFor('groups recreated', async () => (await redis.exists(ks.lane('normal'))) === 1, { timeoutMs: 10_000 });
  await ensureWorkerGroups(redis, ks);
  const second = entry();
  await submitAll([second]);
  const [view] = await waitDone([second.taskId]);
  assert.equal(view!.status, 'solved');
});

test('Redis wiped after the checkpoint, restored without it: the worker writes it again and the restored task polls the paid-for id', async () => {
  await redis.set(ks.drEpoch, 'arch-1/1000');
  // Polls hang 1.5 s: the task sits in its poll phase while Redis is wiped.
  await sim.faults({ slow: { delayMs: 1500, on: 'poll' } });
  const worker = await startWorker(50, 'w1', { checkpointCheckMs: 100 });
  const e = entry();
  await submitAll([e]);
  const paidId = await waitFor('checkpoint written', async () => (await readTask(redis, ks, e.taskId))?.providerTaskId, { timeoutMs: 10_000 });

  // The wipe, then what a restore from an archive that missed the checkpoint writes: the
  // projection without a provider id, a new epoch marker, the entry held back (restore.ts).
  await redis.flushall();
  await ensureWorkerGroups(redis, ks);
  await redis.hset(ks.task(e.taskId), 'task', e.taskId, 'type', e.type, 'tenant', e.tenant, 'priority', e.priority,
    'deadline', String(e.deadline), 'createdAt', String(e.submittedAt), 'status', 'queued', 'attempt', '2', 'updatedAt', String(Date.now()));
  await redis.set(ks.drEpoch, 'arch-1/2000');
  await waitFor('checkpoint written again', async () => (await readTask(redis, ks, e.taskId))?.providerTaskId === paidId, { timeoutMs: 10_000 });
  assert.ok(worker.checkpoints.reasserted >= 1);

  // The hold ends: the task's next delivery is claimed, resumes the paid-for id, and is solved.
  await sim.faults({});
  await redis.xadd(ks.lane('normal'), '*', ...encodeTaskEntry({ ...e, attempt: 2 }));
  const [view] = await waitDone([e.taskId]);
  assert.equal(view!.status, 'solved');
  assert.equal(view!.providerTaskId, paidId);
  const st = await sim.stats();
  assert.equal(st.acceptedSubmits, 1, 'the provider accepted one submit in all');
  assert.equal(st.charges, 1, 'and charged once');
  const results = (await redis.xrange(ks.results, '-', '+')) as [string, string[]][];
  assert.equal(results.length, 1, 'one result');
  await waitFor('the keeper lets go once the outcome is written', () => worker.checkpoints.size === 0, { timeoutMs: 5000 });
});

test('checkpoint keeper: a checkpoint whose write failed (no projection yet) is written once the task is there; a finished task lets it go', async () => {
  const keeper = new CheckpointKeeper({ redis, keys: ks, transitions: tr, logger, consumer: 'w1', clock: Date.now, intervalMs: 60_000 });
  const [a, b] = [entry(), entry()];
  keeper.remember(a.taskId, { provider: 'sim', providerTaskId: 'paid-a', attempt: 1, deadline: Date.now() + 60_000 });
  keeper.remember(b.taskId, { provider: 'sim', providerTaskId: 'paid-b', attempt: 1, deadline: Date.now() + 60_000 });
  await keeper.check(); // Redis has neither task (wiped, not restored yet)
  assert.equal(keeper.reasserted, 0);
  assert.equal(keeper.size, 2);
  await submitAll([a, b]); // restored
  await tr.complete({ result: { taskId: b.taskId, outcome: 'failed', tenant: b.tenant, type: b.type, attempt: 1, completedAt: Date.now(), errorCode: 'X', trace: {} }, priority: 'normal', entryId: '', consumer: 'w1', now: Date.now() });
  await keeper.check();
  assert.equal((await readTask(redis, ks, a.taskId))?.providerTaskId, 'paid-a');
  assert.equal(keeper.reasserted, 1);
  assert.equal(keeper.size, 1, 'the finished task is dropped; the recorded one is kept until its outcome');
  await keeper.check();
  assert.equal(keeper.reasserted, 1, 'a recorded checkpoint is not written again while the marker stays');
});

test('priorities: higher lanes first, yet a flood of critical work does not starve the low lane', async () => {
  const critical = Array.from({ length: 40 }, () => entry(undefined, { priority: 'critical' }));
  const low = Array.from({ length: 4 }, () => entry(undefined, { priority: 'low' }));
  await submitAll([...critical, ...low]);
  await sim.faults({ slow: { delayMs: 20, on: 'submit' } });
  await startWorker(2);
  const views = await waitDone([...critical, ...low].map((e) => e.taskId), 60_000);
  const doneAt = (ids: TaskEntry[]) => ids.map((e) => views.find((v) => v.taskId === e.taskId)!.completedAt!).sort((a, b) => a - b);
  const c = doneAt(critical);
  const l = doneAt(low);
  const lowBeforeLastCritical = l.filter((t) => t < c[c.length - 1]!).length;
  const criticalInFirstHalf = c.filter((t) => t <= (c[c.length - 1]! + c[0]!) / 2).length;
  console.log(`critical=${c.length} low=${l.length} lowFinishedBeforeLastCritical=${lowBeforeLastCritical}`);
  assert.ok(lowBeforeLastCritical >= 1, 'the low lane got slots while critical work was still queued');
  assert.ok(l[0]! > c[0]!, 'critical work starts first');
  assert.ok(criticalInFirstHalf > 0);
});
