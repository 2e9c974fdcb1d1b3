/**
 * The versioned runtime config reaching running workers (no restart), against a real
 * redis-server and the real simulator:
 * - a key rotation under load: every task solved and paid once, and once the new key
 *   is in force everywhere the provider revokes the old one without a single task
 *   failing;
 * - a rollback heals a bad key change: tasks refused meanwhile are retried, none lost;
 * - order, enabled and concurrency changes take effect in place.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { sleep, startRedis, waitFor, type RedisServer } from '@solvestream/testkit';
import { createLogger } from '@solvestream/core';
import {
  ensureWorkerGroups, keyspace, promoteDue, readTask, rollbackConfig, Transitions, writeConfig,
  type RuntimeConfig, type TaskEntry,
} from '@solvestream/contracts';
import { buildWorker } from '../src/app';
import { RuntimeConfigWatcher } from '../src/runtime-config';
import type { Worker } from '../src/worker';
import { KEY, startSim, type Sim } from './helpers';
import { duplicates, keyStats, markedSpec, setAccount } from './provider-helpers';

const NEW_KEY = 'abcdef0123456789abcdef0123456789';
const OTHER_KEY = '0123456789abcdef0123456789abcdef';

let server: RedisServer;
let sim: Sim;
let redis: Redis;
const ks = keyspace({ prefix: 'rcw' });
let tr: Transitions;
const logger = createLogger({ service: 'worker-test', level: 'silent' });
const running: { worker: Worker; watcher: RuntimeConfigWatcher; conns: Redis[] }[] = [];
let promoter: NodeJS.Timeout | undefined;

before(async () => {
  server = await startRedis();
  // Solves take ~0.5-1.5 s, so tasks are in flight while the config changes.
  sim = await startSim({ SIM_LATENCY_SCALE: '0.05' });
  redis = new Redis(server.url);
  tr = new Transitions(redis, ks);
  // Stands in for the supervisor's promotion of delayed retries.
  promoter = setInterval(() => void promoteDue(redis, ks, tr, Date.now()).catch(() => undefined), 50);
});
async function stopWorkers(): Promise<void> {
  while (running.length) {
    const r = running.pop()!;
    r.watcher.close();
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

/** A worker with providers `sim` (KEY) and, optionally, `alt` (OTHER_KEY) on the same simulator, and its config watcher. */
async function startWorker(name: string, o: { alt?: boolean; concurrency?: number } = {}): Promise<{ worker: Worker; watcher: RuntimeConfigWatcher }> {
  const conn = new Redis(server.url, { maxRetriesPerRequest: null });
  const blocking = new Redis(server.url, { maxRetriesPerRequest: null });
  const { worker, router } = buildWorker({
    redis: conn, blockingRedis: blocking, logger, consumer: name, keyPrefix: 'rcw',
    provider: { name: 'sim', baseUrl: sim.url, key: KEY, timeoutMs: 3000 },
    fallbacks: o.alt ? [{ name: 'alt', baseUrl: sim.url, key: OTHER_KEY, timeoutMs: 3000 }] : [],
    routing: { breaker: { failureThreshold: 1000, resetTimeoutMs: 100 } },
    concurrency: o.concurrency ?? 200, blockMs: 200, pollIntervalMs: 100, pollFirstDelayScale: 0.05, maxFailures: 20,
  });
  const watcher = new RuntimeConfigWatcher({ redis: conn, keys: ks, logger, router, worker, intervalMs: 50 });
  await watcher.start();
  await worker.start();
  running.push({ worker, watcher, conns: [conn, blocking] });
  return { worker, watcher };
}

let seq = 0;
async function submit(marker: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const spec = markedSpec(marker);
    const e = { taskId: `${marker}-${++seq}`, ...spec, tenant: 't', priority: 'normal', attempt: 1, submittedAt: Date.now(), deadline: Date.now() + 120_000, trace: {} } as TaskEntry;
    await tr.submit({ entry: e, now: Date.now() });
    ids.push(e.taskId);
  }
  return ids;
}

async function waitSolved(ids: string[], timeoutMs = 60_000): Promise<void> {
  const views = await waitFor(`${ids.length} tasks to finish`, async () => {
    const v = await Promise.all(ids.map((id) => readTask(redis, ks, id)));
    return v.every((x) => x && ['solved', 'failed'].includes(x.status)) ? v : undefined;
  }, { timeoutMs });
  const failed = views.filter((v) => v!.status !== 'solved');
  assert.equal(failed.length, 0, `every task solved; failed: ${JSON.stringify(failed.slice(0, 3))}`);
}

const set = async (doc: RuntimeConfig, expectedVersion: number): Promise<number> =>
  (await writeConfig(redis, ks, { doc, expectedVersion, by: 'test', reason: 'test' })).version;
const rotateAtProvider = async (from: string, to: string, revokeOld: boolean): Promise<void> => {
  const res = await fetch(`${sim.url}/admin/accounts/${from}/rotate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ newKey: to, revokeOld }) });
  assert.equal(res.status, 200, await res.text());
};
const requestsWith = async (key: string): Promise<number> => {
  const s = await keyStats(sim, key);
  return s.submits + s.polls + s.balanceChecks;
};

test('a key rotation under load reaches running workers; the old key is then revoked and no task fails or is paid twice', async () => {
  const workers = [await startWorker('w1'), await startWorker('w2')];
  await setAccount(sim, KEY, {}); // the account exists before anyone used its key
  await rotateAtProvider(KEY, NEW_KEY, false); // the provider issues a second key for the account
  const ids: string[] = [];
  const load = (async () => {
    for (let round = 0; round < 12; round++) {
      ids.push(...(await submit('rot', 15)));
      await sleep(100);
    }
  })();
  await sleep(500);
  const version = await set({ providers: { sim: { key: NEW_KEY } } }, 0);
  await waitFor('every worker on the new version', () => workers.every((w) => w.watcher.version === version), { timeoutMs: 5000 });
  // In-flight requests sent with the old key have had time to finish; then the provider retires it.
  await sleep(300);
  await rotateAtProvider(NEW_KEY, NEW_KEY, false);
  await rotateAtProvider(KEY, NEW_KEY, true);
  const oldKeyRequests = await requestsWith(KEY);
  await load;
  await waitSolved(ids);
  assert.equal(ids.length, 180);
  assert.equal(await redis.xlen(ks.results), 180, 'one result per task');
  assert.equal(await requestsWith(KEY), oldKeyRequests, 'no request carried the revoked key after the rotation');
  assert.ok((await requestsWith(NEW_KEY)) > 0, 'the new key did the work after the rotation');
  assert.equal((await keyStats(sim, KEY)).errors.ERROR_KEY_DOES_NOT_EXIST ?? 0, 0);
  assert.equal(await duplicates(sim, 'rot', true), 0, 'no solve paid twice');
});

test('rollback: a bad key change is undone in place; the tasks it refused are retried and solved', async () => {
  const v1 = await set({ providers: { sim: { key: KEY } } }, 0);
  const { watcher } = await startWorker('w1');
  assert.equal(watcher.version, v1, 'a worker starts on the config in force');
  await set({ providers: { sim: { key: 'not-a-valid-provider-key' } } }, v1);
  await waitFor('the bad version applied', () => watcher.version === 2, { timeoutMs: 5000 });
  const ids = await submit('rb', 10);
  await waitFor('the provider refusing the bad key', async () => ((await keyStats(sim, 'not-a-valid-provider-key')).errors.ERROR_WRONG_USER_KEY ?? 0) > 0, { timeoutMs: 10_000 });
  const back = await rollbackConfig(redis, ks, { toVersion: v1, by: 'test' });
  assert.equal(back.version, 3);
  await waitFor('the rollback applied', () => watcher.version === 3, { timeoutMs: 5000 });
  await waitSolved(ids, 90_000);
  assert.equal(await redis.xlen(ks.results), 10, 'one result per task');
  assert.equal(await redis.xlen(ks.deadLetter), 0, 'nothing dead-lettered');
  assert.equal(await duplicates(sim, 'rb', true), 0);
});

test('order, enabled and concurrency change in place; removing a setting restores the start-up value', async () => {
  const { worker, watcher } = await startWorker('w1', { alt: true, concurrency: 50 });
  const submitsWith = async (key: string): Promise<number> => (await keyStats(sim, key)).submits;

  let v = await set({ order: ['alt'], limits: { workerConcurrency: 2 } }, 0);
  await waitFor('version applied', () => watcher.version === v, { timeoutMs: 5000 });
  assert.equal(worker.maxConcurrency, 2);
  let maxInFlight = 0;
  const sampler = setInterval(() => (maxInFlight = Math.max(maxInFlight, worker.stats.inFlight)), 2);
  const before = { sim: await submitsWith(KEY), alt: await submitsWith(OTHER_KEY) };
  await waitSolved(await submit('ord', 8));
  clearInterval(sampler);
  assert.ok(maxInFlight <= 2, `in flight stayed within the new bound (saw ${maxInFlight})`);
  assert.equal(await submitsWith(KEY) - before.sim, 0, 'alt first: sim got no new task');
  assert.equal(await submitsWith(OTHER_KEY) - before.alt, 8);

  v = await set({ order: ['alt'], providers: { alt: { enabled: false } } }, v);
  await waitFor('version applied', () => watcher.version === v, { timeoutMs: 5000 });
  assert.equal(worker.maxConcurrency, 50, 'no limit in the doc: back to the start-up value');
  const mid = { sim: await submitsWith(KEY), alt: await submitsWith(OTHER_KEY) };
  await waitSolved(await submit('dis', 6));
  assert.equal(await redis.xlen(ks.results), 14, 'one result per task');
  assert.equal(await submitsWith(OTHER_KEY) - mid.alt, 0, 'a disabled provider takes no new task');
  assert.equal(await submitsWith(KEY) - mid.sim, 6);

  // A heartbeat reports the version in force.
  await waitFor('a heartbeat with the config version', async () => {
    const hb = (await redis.xrevrange(ks.heartbeats, '+', '-', 'COUNT', 5)) as [string, string[]][];
    return hb.some(([, f]) => f[f.indexOf('configVersion') + 1] === String(v));
  }, { timeoutMs: 10_000 });
});
