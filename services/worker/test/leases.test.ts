/**
 * Leases against a real redis-server: what a worker may conclude about an entry it
 * holds, including after a stall (a fake lease clock stands in for the frozen time).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type Redis from 'ioredis';
import { createLogger } from '@solvestream/core';
import { flattenReadReply, keyspace, WORKERS_GROUP, type TaskEntry, type Transitions } from '@solvestream/contracts';
import { Leases } from '../src/leases';
import { useWorkerRedis } from './helpers';

const LEASE_MS = 900;
const ks = keyspace();
const lane = ks.lane('normal');
const logger = createLogger({ service: 'leases-test', level: 'silent' });
let redis: Redis;
let tr: Transitions;

useWorkerRedis(ks, (client, transitions) => {
  redis = client;
  tr = transitions;
});

let seq = 0;
/** Submits a task and reads its entry as consumer `w1` (pending for w1). */
async function delivered(): Promise<{ id: string; entry: TaskEntry }> {
  const entry: TaskEntry = {
    taskId: `lease-${++seq}`, type: 'turnstile', params: { websiteURL: 'https://example.com', websiteKey: '0x4AAAAAAAB' },
    tenant: 't', priority: 'normal', attempt: 1, submittedAt: Date.now(), deadline: Date.now() + 60_000, trace: {},
  };
  await tr.submit({ entry, now: Date.now() });
  const [e] = flattenReadReply(await redis.xreadgroup('GROUP', WORKERS_GROUP, 'w1', 'COUNT', 1, 'STREAMS', lane, '>'));
  assert.ok(e);
  return { id: e.id, entry };
}

/** A lease clock the test moves by hand. */
function fakeClock(start = 10_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => { t += ms; } };
}

/** `redis` whose XCLAIM calls are counted and answered by `xclaim` (`real` sends the real one). */
function xclaimVia(xclaim: (call: number, real: () => Promise<unknown>) => Promise<unknown>): { client: Redis; calls: () => number } {
  let calls = 0;
  const client = new Proxy(redis, {
    get(target, prop, receiver) {
      if (prop !== 'xclaim') return Reflect.get(target, prop, receiver) as unknown;
      return (...args: unknown[]) => xclaim(++calls, () => (target.xclaim as (...a: unknown[]) => Promise<unknown>).apply(target, args));
    },
  });
  return { client, calls: () => calls };
}

/** The real XCLAIM, with a hook run after each one's reply, before the caller sees it. */
function countingRedis(afterReply?: (call: number) => Promise<void>): { client: Redis; calls: () => number } {
  return xclaimVia(async (n, real) => {
    const reply = await real();
    await afterReply?.(n);
    return reply;
  });
}

const closed = (): Promise<never> => Promise.reject(new Error('Connection is closed.'));

/** Leases of consumer `w1` over `client`, on the fake `clock`. */
const leasesOver = (client: Redis, clock: { now: () => number }): Leases =>
  new Leases({ redis: client, consumer: 'w1', leaseMs: LEASE_MS, logger, clock: clock.now });

/** Delivers a task to `w1` and holds its entry with a lease reset now; returns the entry id. */
async function holdOne(leases: Leases, clock: { now: () => number }): Promise<string> {
  const { id, entry } = await delivered();
  leases.hold(id, lane, entry, clock.now());
  return id;
}

test('a lease reset less than a third of its length ago is confirmed without a round trip', async () => {
  const clock = fakeClock();
  const { client, calls } = countingRedis();
  const leases = leasesOver(client, clock);
  const id = await holdOne(leases, clock);
  clock.advance(LEASE_MS / 3 - 1);
  assert.equal(await leases.confirm(id), true);
  assert.equal(calls(), 0);
});

test('an older lease is renewed before it is confirmed; one reclaimed meanwhile is refused and marked lost', async () => {
  const clock = fakeClock();
  const { client, calls } = countingRedis();
  const leases = leasesOver(client, clock);
  const kept = await delivered();
  const gone = await delivered();
  leases.hold(kept.id, lane, kept.entry, clock.now());
  leases.hold(gone.id, lane, gone.entry, clock.now());
  clock.advance(LEASE_MS); // a stall as long as the lease
  await redis.xack(lane, WORKERS_GROUP, gone.id); // what a reclaim does to the old delivery
  assert.equal(await leases.confirm(kept.id), true);
  assert.equal(leases.get(kept.id)?.leaseFrom, clock.now(), 'the renewal moved the lease start to its send time');
  assert.equal(await leases.confirm(gone.id), false);
  assert.equal(leases.get(gone.id)?.lost.lost, true);
  assert.equal(calls(), 2);
});

test('a renewal whose reply is read after a stall vouches for nothing: the lease is asked about again', async () => {
  // Chaos (b): Redis renews the entry, the worker freezes before reading the reply, the
  // entry is reclaimed during the freeze; on waking the reply says "yours" — about a
  // moment before the freeze. Trusting it paid for a solve twice.
  const clock = fakeClock();
  const entries: string[] = [];
  const { client, calls } = countingRedis(async (call) => {
    if (call !== 1) return;
    clock.advance(LEASE_MS + 600); // frozen while the reply waited in the socket
    await redis.xack(lane, WORKERS_GROUP, ...entries); // meanwhile the supervisor reclaimed it
  });
  const leases = leasesOver(client, clock);
  const id = await holdOne(leases, clock);
  entries.push(id);
  clock.advance(LEASE_MS / 2);
  assert.equal(await leases.confirm(id), false, 'the stale "yours" was not taken for a lease');
  assert.equal(calls(), 2, 'it asked again, and the second answer said the entry is gone');
  assert.equal(leases.get(id)?.lost.lost, true);
});

test('a renewal that keeps coming back late gives up: nothing is confirmed', async () => {
  const clock = fakeClock();
  const { client, calls } = countingRedis(async () => { clock.advance(LEASE_MS); });
  const leases = leasesOver(client, clock);
  const id = await holdOne(leases, clock);
  clock.advance(LEASE_MS);
  assert.equal(await leases.confirm(id), false);
  assert.equal(calls(), 3);
  assert.equal(leases.get(id)?.lost.lost, false, 'not lost either: the entry is still ours, only unconfirmed');
});

test('a renewal that fails is asked again; failing three times it confirms nothing and marks nothing lost (Redis unreachable)', async () => {
  const clock = fakeClock();
  const { client: broken, calls } = xclaimVia(closed);
  const leases = leasesOver(broken, clock);
  const id = await holdOne(leases, clock);
  clock.advance(LEASE_MS);
  assert.equal(await leases.confirm(id), false);
  assert.equal(calls(), 3);
  const r = await leases.renew();
  assert.equal(r.failed, true);
  assert.equal(leases.get(id)?.lost.lost, false);
});

test('a renewal that fails once and then goes through confirms the lease (a Redis hiccup costs a retry, not the task)', async () => {
  const clock = fakeClock();
  const { client: flaky, calls } = xclaimVia((n, real) => (n === 1 ? closed() : real()));
  const leases = leasesOver(flaky, clock);
  const id = await holdOne(leases, clock);
  clock.advance(LEASE_MS);
  assert.equal(await leases.confirm(id), true);
  assert.equal(calls(), 2);
});

test('a periodic renewal refreshes every held entry it keeps and marks the reclaimed ones lost', async () => {
  const clock = fakeClock();
  const leases = leasesOver(redis, clock);
  const held = [await delivered(), await delivered(), await delivered()];
  for (const h of held) leases.hold(h.id, lane, h.entry, clock.now());
  await redis.xack(lane, WORKERS_GROUP, held[1]!.id);
  clock.advance(500);
  const r = await leases.renew();
  assert.deepEqual([...r.kept].sort(), [held[0]!.id, held[2]!.id].sort());
  assert.deepEqual(held.map((h) => leases.get(h.id)?.leaseFrom), [clock.now(), 10_000, clock.now()]);
  assert.deepEqual(held.map((h) => leases.get(h.id)?.lost.lost), [false, true, false]);
  const [p] = (await redis.xpending(lane, WORKERS_GROUP, held[0]!.id, held[0]!.id, 1)) as [string, string, number, number][];
  assert.ok(p && p[2] < 200, 'the idle time in Redis was reset');
});
