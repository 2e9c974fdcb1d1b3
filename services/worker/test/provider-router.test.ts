/**
 * The failover router over two real simulators (primary + fallback): failover when the
 * primary goes down and back when it recovers, refusals that move on and those that do
 * not, the balance cut-off with its alerts in a real Redis, report pass-through.
 * Breakers run on an injected clock.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { startRedis, type RedisServer } from '@solvestream/testkit';
import { createLogger } from '@solvestream/core';
import { keyspace, readAlerts } from '@solvestream/contracts';
import { ProviderError } from '../src/provider/errors';
import type { ProviderRouter, RouterEvent } from '../src/provider/router';
import { buildProviders, wireAlerts } from '../src/provider/setup';
import type { ProviderConfig } from '../src/provider/client';
import { KEY, startSim, type Sim } from './helpers';
import { keyStats, markedSpec, setAccount, simTask } from './provider-helpers';

let primary: Sim;
let fallback: Sim;
let server: RedisServer;
let redis: Redis;
const ks = keyspace({ prefix: 'rt' });
const logger = createLogger({ service: 'router-test', level: 'silent' });
let now = 0;
const clock = (): number => now;

before(async () => {
  [primary, fallback, server] = await Promise.all([startSim(), startSim(), startRedis()]);
  redis = new Redis(server.url);
});
after(async () => {
  redis.disconnect();
  await Promise.all([primary.stop(), fallback.stop(), server.stop()]);
});
beforeEach(async () => {
  now = 1_700_000_000_000;
  await Promise.all([primary.reset(), fallback.reset(), redis.flushall()]);
});

function router(o: { primary?: Partial<ProviderConfig>; fallback?: Partial<ProviderConfig> } = {}): { r: ProviderRouter; events: RouterEvent[] } {
  const r = buildProviders({
    providers: [
      { name: 'main', baseUrl: primary.url, key: KEY, timeoutMs: 2000, zeroBalanceIsCapacity: false, ...o.primary },
      { name: 'spare', protocol: 'json', baseUrl: fallback.url, key: KEY, timeoutMs: 2000, zeroBalanceIsCapacity: false, ...o.fallback },
    ],
    breaker: { failureThreshold: 3, resetTimeoutMs: 30_000, halfOpenMaxTrials: 1, successThreshold: 2 },
    clock,
    logger,
  });
  const events: RouterEvent[] = [];
  r.onEvent((e) => events.push(e));
  wireAlerts(r, { redis, keys: ks, source: 'test-worker', logger });
  return { r, events };
}

/** Submits `n` tasks one after another; returns the provider name of each. */
async function submitMany(r: ProviderRouter, n: number, marker = 'rt'): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await r.submit(markedSpec(marker))).provider.name);
  return out;
}

const waitAlerts = async (n: number) => {
  for (let i = 0; i < 100; i++) {
    const a = await readAlerts(redis, ks);
    if (a.length >= n) return a;
    await new Promise((res) => setTimeout(res, 20));
  }
  return readAlerts(redis, ks);
};

test('healthy primary: every new task goes to the primary', async () => {
  const { r } = router();
  assert.deepEqual(await submitMany(r, 5), Array(5).fill('main'));
  assert.equal((await keyStats(fallback, KEY)).submits, 0);
  assert.deepEqual(r.health().map((h) => [h.name, h.protocol, h.eligible, h.breaker.state]), [['main', 'v1', true, 'closed'], ['spare', 'json', true, 'closed']]);
});

test('primary down: tasks fail over, the breaker opens and stops trying it; it comes back when it recovers', async () => {
  const { r, events } = router();
  await primary.faults({ outage: { mode: 'refuse' } });
  assert.deepEqual(await submitMany(r, 6), Array(6).fill('spare'), 'each task moved on to the fallback');
  const mainCalls = () => r.get('main')?.client.calls.submit;
  assert.equal(mainCalls(), 3, 'after 3 failures the primary is no longer tried');
  assert.equal(r.get('main')?.breaker.state, 'open');

  // Still down when the reset timeout passes: one trial fails, the breaker opens again.
  now += 30_000;
  assert.deepEqual(await submitMany(r, 2), ['spare', 'spare']);
  assert.equal(mainCalls(), 4, 'exactly one trial went to the primary');
  assert.equal(r.get('main')?.breaker.state, 'open');

  // Recovered: after the timeout, trials succeed and close the breaker; the primary gets traffic back.
  await primary.faults({});
  now += 30_000;
  assert.deepEqual(await submitMany(r, 4), ['main', 'main', 'main', 'main']);
  assert.equal(r.get('main')?.breaker.state, 'closed');
  assert.deepEqual(events.map((e) => e.kind), [
    'provider-breaker-open', 'provider-breaker-half-open', 'provider-breaker-open', 'provider-breaker-half-open', 'provider-breaker-closed',
  ]);
  const alerts = await waitAlerts(3);
  assert.deepEqual(alerts.map((a) => [a.kind, a.data.provider, a.source]), [
    ['provider-breaker-open', 'main', 'test-worker'], ['provider-breaker-open', 'main', 'test-worker'], ['provider-breaker-closed', 'main', 'test-worker'],
  ]);
  const p = await keyStats(primary, KEY);
  const f = await keyStats(fallback, KEY);
  assert.equal(p.acceptedSubmits + f.acceptedSubmits, 12, 'one accepted submit per task, no more');
});

test('half-open with a trial in flight: other tasks go to the fallback meanwhile', async () => {
  const { r } = router();
  r.get('main')?.breaker.force('open');
  now += 30_000;
  await primary.faults({ slow: { delayMs: 300, on: 'submit' } });
  const trial = r.submit(markedSpec('ho'));
  const others = await Promise.all([r.submit(markedSpec('ho')), r.submit(markedSpec('ho'))]);
  assert.deepEqual(others.map((o) => o.provider.name), ['spare', 'spare']);
  assert.equal((await trial).provider.name, 'main');
});

test('capacity, auth and zero-balance refusals move on; permanent errors do not', async () => {
  const { r } = router();
  await primary.faults({ errors: { codes: ['ERROR_NO_SLOT_AVAILABLE'], on: 'submit', times: 1 } });
  assert.equal((await r.submit(markedSpec('c'))).provider.name, 'spare');
  await primary.faults({ rateLimit: { code: 'ERROR: 1001', on: 'submit', times: 1 } });
  assert.equal((await r.submit(markedSpec('c'))).provider.name, 'spare');
  await setAccount(primary, KEY, { balance: 0 });
  assert.equal((await r.submit(markedSpec('c'))).provider.name, 'spare', 'ERROR_ZERO_BALANCE on a balance provider');
  assert.equal(r.get('main')?.breaker.state, 'open', 'three failures in a row opened it');
  await primary.reset();
  r.get('main')?.breaker.force('closed');

  const before = (await keyStats(fallback, KEY)).submits;
  await assert.rejects(r.submit({ type: 'recaptcha_v2', params: { websiteURL: 'https://x.example/', websiteKey: 'bad key with spaces' } }), (err: unknown) =>
    err instanceof ProviderError && err.errorClass === 'permanent' && err.provider === 'main');
  assert.equal((await keyStats(fallback, KEY)).submits, before, 'a task that cannot succeed is not sent to the fallback');
  assert.equal(r.get('main')?.breaker.snapshot().failures, 0, 'nor does it count against the primary');

  const auth = router({ primary: { key: 'not-a-valid-key' } }).r;
  assert.equal((await auth.submit(markedSpec('c'))).provider.name, 'spare');
});

test('every provider unhealthy: submit rejects with a capacity error; the caller backs off', async () => {
  const { r } = router();
  await Promise.all([primary.faults({ outage: { mode: 'refuse' } }), fallback.faults({ outage: { mode: 'http500' } })]);
  await assert.rejects(r.submit(markedSpec('u')), (err: unknown) => err instanceof ProviderError && err.code === 'HTTP_500' && err.errorClass === 'retry');
  for (let i = 0; i < 2; i++) await r.submit(markedSpec('u')).catch(() => undefined);
  assert.equal(r.get('main')?.breaker.state, 'open');
  assert.equal(r.get('spare')?.breaker.state, 'open');
  await assert.rejects(r.submit(markedSpec('u')), (err: unknown) =>
    err instanceof ProviderError && err.code === 'NO_HEALTHY_PROVIDER' && err.errorClass === 'capacity' && /main: breaker open; spare: breaker open/.test(err.message));
  assert.equal(r.nextChanceInMs(), 30_000, 'both breakers opened just now: the first trial is 30 s away');
  now += 12_000;
  assert.equal(r.nextChanceInMs(), 18_000);
});

test('balance below the minimum: no new tasks go there, alerts are appended; back above it: traffic returns', async () => {
  const { r, events } = router({ primary: { minBalance: 1 }, fallback: { minBalance: 1 } });
  await r.checkBalances();
  assert.equal(r.get('main')?.balance?.state, 'ok');
  assert.equal(events.length, 0, 'unknown → ok is not news');

  await setAccount(primary, KEY, { balance: 0.5 });
  await r.checkBalances();
  assert.equal(r.get('main')?.balance?.state, 'low');
  assert.deepEqual(await submitMany(r, 3), ['spare', 'spare', 'spare']);
  assert.equal((await keyStats(primary, KEY)).submits, 0, 'a low-balance provider is not even tried');
  assert.deepEqual(r.health().map((h) => [h.name, h.eligible, h.balance?.state, h.balance?.last]), [['main', false, 'low', 0.5], ['spare', true, 'ok', 1000]]);

  await setAccount(primary, KEY, { balance: 5 });
  await r.checkBalances();
  assert.deepEqual(await submitMany(r, 2), ['main', 'main']);

  // A failed check keeps the last known state.
  await setAccount(fallback, KEY, { balance: 0.2 });
  await r.checkBalances();
  await fallback.faults({ outage: { mode: 'refuse' } });
  await setAccount(fallback, KEY, { balance: 50 });
  await r.checkBalances();
  assert.equal(r.get('spare')?.balance?.state, 'low');

  assert.deepEqual(events.map((e) => `${e.kind}:${e.provider}`), ['provider-balance-low:main', 'provider-balance-ok:main', 'provider-balance-low:spare']);
  const alerts = await waitAlerts(3);
  assert.deepEqual(alerts.map((a) => [a.kind, a.data.provider, a.data.balance, a.data.minBalance]), [
    ['provider-balance-low', 'main', 0.5, 1], ['provider-balance-ok', 'main', 5, 1], ['provider-balance-low', 'spare', 0.2, 1],
  ]);
  assert.match(alerts[0]?.message ?? '', /below the minimum/);
  assert.ok(alerts.every((a) => a.at === now && a.source === 'test-worker'));
});

test('periodic balance checks run from start() until close()', async () => {
  const r = buildProviders({
    providers: [{ name: 'main', baseUrl: primary.url, key: KEY, minBalance: 1 }, { name: 'nobal', baseUrl: fallback.url, key: KEY }],
    balanceIntervalMs: 50, clock, logger,
  });
  r.start();
  r.start();
  await new Promise((res) => setTimeout(res, 300));
  r.close();
  const checks = (await keyStats(primary, KEY)).balanceChecks;
  assert.ok(checks >= 3 && checks <= 8, `about one check per interval (got ${checks})`);
  await new Promise((res) => setTimeout(res, 200));
  assert.equal((await keyStats(primary, KEY)).balanceChecks, checks, 'no checks after close()');
  assert.equal((await keyStats(fallback, KEY)).balanceChecks, 0, 'a provider without a minimum is never checked');
});

test('report good/bad goes to the provider that solved the task, whatever its protocol', async () => {
  const { r } = router();
  const a = await r.submit(markedSpec('rep'));
  await primary.faults({ outage: { mode: 'refuse', on: 'submit' } });
  const b = await r.submit(markedSpec('rep'));
  assert.deepEqual([a.provider.name, b.provider.name], ['main', 'spare']);
  await new Promise((res) => setTimeout(res, 400)); // latency scale 0.005: solved within 300 ms
  await r.report('main', a.providerTaskId, 'recaptcha_v2', 'bad');
  await r.report('spare', b.providerTaskId, 'recaptcha_v2', 'good');
  assert.equal((await simTask(primary, a.providerTaskId)).report?.kind, 'bad');
  assert.equal((await simTask(fallback, b.providerTaskId)).report?.kind, 'good');
  assert.deepEqual([(await keyStats(primary, KEY)).reportsBad, (await keyStats(fallback, KEY)).reportsGood], [1, 1]);
  await assert.rejects(r.report('gone', '1', 'image', 'bad'), (err: unknown) => err instanceof ProviderError && err.code === 'UNKNOWN_PROVIDER');
});
