/**
 * The worker loop with a primary (v1) and a fallback (JSON API) provider, each a real
 * simulator, on a real redis-server: the primary goes down with tasks in flight, new
 * tasks fail over, the tasks in flight stay with the primary (even across a worker
 * hand-over), the primary gets traffic back when it recovers — and no CAPTCHA is ever
 * submitted or paid for twice.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { startRedis, waitFor, type RedisServer } from '@solvestream/testkit';
import { createLogger } from '@solvestream/core';
import { ensureWorkerGroups, keyspace, promoteDue, readAlerts, readTask, Transitions, type TaskEntry, type TaskView } from '@solvestream/contracts';
import { buildWorker } from '../src/app';
import type { ProviderRouter } from '../src/provider/router';
import type { Worker } from '../src/worker';
import { KEY, startSim, type Sim } from './helpers';
import { duplicates, keyStats, markedSpec, simTasks } from './provider-helpers';

let server: RedisServer;
let primary: Sim;
let fallback: Sim;
let redis: Redis;
let promoter: NodeJS.Timeout;
const ks = keyspace({ prefix: 'fo' });
let tr: Transitions;
const logger = createLogger({ service: 'failover-test', level: 'silent' });
const running: { worker: Worker; router: ProviderRouter; conns: Redis[] }[] = [];

before(async () => {
  // The primary solves slowly enough (0.6–2.4 s) for tasks to be in flight when it goes down.
  [server, primary, fallback] = await Promise.all([startRedis(), startSim({ SIM_LATENCY_SCALE: '0.04' }), startSim()]);
  redis = new Redis(server.url);
  tr = new Transitions(redis, ks);
  await ensureWorkerGroups(redis, ks);
  promoter = setInterval(() => void promoteDue(redis, ks, tr, Date.now()).catch(() => undefined), 50);
});
async function stopWorkers(): Promise<void> {
  for (const r of running.splice(0)) {
    await r.worker.close(0);
    r.router.close();
    r.conns.forEach((c) => c.disconnect());
  }
}
after(async () => {
  clearInterval(promoter);
  await stopWorkers();
  redis.disconnect();
  await Promise.all([primary.stop(), fallback.stop(), server.stop()]);
});

async function startWorker(name: string, o: { maxFailures?: number; breaker?: { failureThreshold: number; resetTimeoutMs: number; halfOpenMaxTrials: number; successThreshold: number } } = {}): Promise<{ worker: Worker; router: ProviderRouter }> {
  const conns = [new Redis(server.url, { maxRetriesPerRequest: null }), new Redis(server.url, { maxRetriesPerRequest: null })];
  const { worker, router } = buildWorker({
    redis: conns[0]!, blockingRedis: conns[1]!, logger, consumer: name, keyPrefix: 'fo',
    provider: { name: 'main', baseUrl: primary.url, key: KEY, timeoutMs: 5000, zeroBalanceIsCapacity: false },
    fallbacks: [{ name: 'spare', protocol: 'json', baseUrl: fallback.url, key: KEY, timeoutMs: 5000, zeroBalanceIsCapacity: false }],
    routing: { breaker: o.breaker ?? { failureThreshold: 3, resetTimeoutMs: 400, halfOpenMaxTrials: 1, successThreshold: 2 } },
    maxFailures: o.maxFailures,
    concurrency: 200, blockMs: 100, pollIntervalMs: 50, pollFirstDelayScale: 0.005,
  });
  await worker.start();
  router.start();
  running.push({ worker, router, conns });
  return { worker, router };
}

let seq = 0;
function entries(marker: string, n: number): TaskEntry[] {
  return Array.from({ length: n }, () => {
    const spec = markedSpec(marker);
    return {
      taskId: `${marker}-${++seq}`, type: spec.type, params: spec.params, tenant: 't', priority: 'normal', attempt: 1,
      submittedAt: Date.now(), deadline: Date.now() + 120_000, trace: {},
    } as TaskEntry;
  });
}

async function submitAll(list: TaskEntry[]): Promise<string[]> {
  for (const e of list) await tr.submit({ entry: e, now: Date.now() });
  return list.map((e) => e.taskId);
}

const views = (ids: string[]) => Promise.all(ids.map((id) => readTask(redis, ks, id)));

async function waitDone(ids: string[], timeoutMs = 30_000): Promise<TaskView[]> {
  return waitFor(`${ids.length} tasks to finish`, async () => {
    const vs = await views(ids);
    return vs.every((v) => v && (v.status === 'solved' || v.status === 'failed')) ? (vs as TaskView[]) : undefined;
  }, { timeoutMs });
}

async function waitCheckpointed(ids: string[]): Promise<TaskView[]> {
  return waitFor(`${ids.length} tasks at a provider`, async () => {
    const vs = await views(ids);
    return vs.every((v) => v?.providerTaskId) ? (vs as TaskView[]) : undefined;
  }, { timeoutMs: 15_000 });
}

test('primary down with tasks in flight: new tasks fail over, held tasks stay, nothing is submitted twice', async () => {
  const first = await startWorker('w1');

  // A: accepted by the primary, still solving there.
  const a = await submitAll(entries('foa', 30));
  const aAt = await waitCheckpointed(a);
  assert.ok(aAt.every((v) => v.provider === 'main'));
  await primary.faults({ outage: { mode: 'refuse' } });

  // The worker hands its tasks back (drain); another worker resumes them from their
  // checkpoints and polls the primary, which is down.
  await first.worker.close(0);
  const second = await startWorker('w2');

  // B: submitted during the outage → the fallback. The breaker opens after 3 failures.
  const b = await submitAll(entries('fob', 30));
  const bDone = await waitDone(b);
  assert.ok(bDone.every((v) => v.status === 'solved' && v.provider === 'spare'), 'every new task was solved on the fallback');
  assert.equal(second.router.get('main')?.breaker.state === 'closed', false, 'the primary breaker is not closed');
  assert.equal((await simTasks(fallback, 'foa')).length, 0, 'no held task was resubmitted to the fallback');
  const held = (await views(a)).filter((v) => v?.status !== 'solved');
  assert.ok(held.length > 0 && held.every((v) => v && v.status !== 'failed'), 'held tasks still solving at the primary wait for it');

  // Recovery: the held tasks are answered by the primary, by polling their ids.
  await primary.faults({});
  const aDone = await waitDone(a);
  assert.ok(aDone.every((v) => v.status === 'solved' && v.provider === 'main'));
  assert.deepEqual(aDone.map((v) => v.providerTaskId), aAt.map((v) => v.providerTaskId), 'each held task kept its provider id');

  // C: a trickle of new tasks after the reset timeout. Trials close the breaker; the primary gets traffic back.
  await new Promise((r) => setTimeout(r, 450));
  const c: string[] = [];
  for (const e of entries('foc', 6)) {
    c.push(...(await submitAll([e])));
    await waitCheckpointed(c.slice(-1));
  }
  const cDone = await waitDone(c);
  assert.ok(cDone.every((v) => v.status === 'solved'));
  assert.deepEqual(cDone.slice(-4).map((v) => v.provider), ['main', 'main', 'main', 'main'], 'the primary is first again');
  assert.equal(second.router.get('main')?.breaker.state, 'closed');

  // Paid once: one accepted submit and one charge per task, over both providers together.
  const all = [...a, ...b, ...c];
  const [p, f] = await Promise.all([keyStats(primary, KEY), keyStats(fallback, KEY)]);
  assert.equal(p.acceptedSubmits + f.acceptedSubmits, all.length, 'one accepted submit per task');
  assert.equal(p.charges + f.charges, all.length, 'one charge per task');
  for (const marker of ['foa', 'fob', 'foc']) {
    assert.equal(await duplicates(primary, marker), 0);
    assert.equal(await duplicates(fallback, marker), 0);
  }
  const fingerprints = [...(await simTasks(primary, 'fo')), ...(await simTasks(fallback, 'fo'))].map((t) => t.fingerprint);
  assert.equal(fingerprints.length, all.length);
  assert.equal(new Set(fingerprints).size, all.length, 'no CAPTCHA went to both providers');

  const alerts = (await readAlerts(redis, ks)).map((x) => `${x.kind}:${x.data.provider}`);
  assert.equal(alerts[0], 'provider-breaker-open:main', alerts.join(', '));
  assert.equal(alerts.at(-1), 'provider-breaker-closed:main', alerts.join(', '));
});

test('every provider down: tasks retry through the delayed set and are solved, paid once, after recovery', async () => {
  await stopWorkers();
  await Promise.all([primary.reset(), fallback.reset()]);
  await Promise.all([primary.faults({ outage: { mode: 'refuse' } }), fallback.faults({ outage: { mode: 'refuse' } })]);
  const { router } = await startWorker('w3', { maxFailures: 20, breaker: { failureThreshold: 1, resetTimeoutMs: 300, halfOpenMaxTrials: 1, successThreshold: 1 } });
  const ids = await submitAll(entries('fow', 9));
  await waitFor('both breakers open', async () => (router.health().every((h) => h.breaker.state === 'open') ? true : undefined), { timeoutMs: 5000 });
  await new Promise((r) => setTimeout(r, 700));
  await Promise.all([primary.faults({}), fallback.faults({})]);

  const done = await waitDone(ids);
  assert.ok(done.every((v) => v.status === 'solved'), JSON.stringify(done.map((v) => [v.status, v.provider, v.errorCode])));
  assert.ok(done.some((v) => v.attempt > 1), 'tasks were retried while no provider could take them');
  assert.equal(await redis.xlen(ks.deadLetter), 0);
  const [p, f] = await Promise.all([keyStats(primary, KEY), keyStats(fallback, KEY)]);
  assert.equal(p.acceptedSubmits + f.acceptedSubmits, ids.length, 'one accepted submit per task');
  assert.equal(p.charges + f.charges, ids.length, 'one charge per task');
});
