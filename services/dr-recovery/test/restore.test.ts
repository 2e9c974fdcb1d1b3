import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { startRedis, type RedisServer } from '@solvestream/testkit';
import { decodeTaskEntry, ensureWorkerGroups, fieldsToObject, keyspace, promoteDue, readTask, Transitions, WORKERS_GROUP } from '@solvestream/contracts';
import { ArchiveWriter, DrService, restore, RestoreRefusedError } from '../src';
import { dump, silent, tempDir, workload } from './helpers';

const keys = keyspace({ prefix: 'ss', partition: 'p0' });
let src: RedisServer;
let a: RedisServer;
let b: RedisServer;
let rs: Redis;
let ra: Redis;
let rb: Redis;
let dir: string;
let ids: Awaited<ReturnType<typeof workload>>;

before(async () => {
  [src, a, b] = await Promise.all([startRedis(), startRedis(), startRedis()]);
  [rs, ra, rb] = [new Redis(src.url), new Redis(a.url), new Redis(b.url)];
  ids = await workload(rs, keys, 4);
  dir = tempDir();
  const writer = ArchiveWriter.open({ dir, prefix: 'ss', partition: 'p0' });
  const reader = new Redis(src.url);
  const svc = new DrService({ redis: rs, reader, keys, writer, logger: silent, mode: 'manual', instance: 't', blockMs: 10 });
  assert.ok((await svc.catchUp()) > 0);
  await svc.close();
});
after(async () => {
  for (const r of [rs, ra, rb]) r.disconnect();
  await Promise.all([src.stop(), a.stop(), b.stop()]);
});

/** One clock for both restores below: held tasks are due at restore time + holdMs. */
const RESTORED_AT = Date.now();
const HOLD_MS = 5000;
let raRestored: Record<string, unknown> = {};

test('restore into an empty Redis: history with original ids, terminal tasks final, unfinished requeued with their checkpoint (those without one held back)', async () => {
  const report = await restore({ redis: ra, keys, archive: dir, now: () => RESTORED_AT, holdMs: HOLD_MS });
  raRestored = await dump(ra, (k) => k === keys.drEpoch);
  assert.equal(report.terminal, ids.done.length + ids.cancelled.length);
  assert.equal(report.requeued, ids.flight.length + ids.queued.length);
  assert.equal(report.held, ids.queued.length, 'the tasks without a checkpoint are held');
  assert.deepEqual(report.unrecoverable, []);
  for (const k of [keys.events, keys.results]) assert.deepEqual(await ra.xrange(k, '-', '+'), await rs.xrange(k, '-', '+'), k);
  for (const id of ids.done) {
    const t = await readTask(ra, keys, id);
    assert.equal(t?.status, 'solved');
    assert.deepEqual(t?.solution, { token: `tok-${id}` });
    // the lane entry was XDEL'd before this one-shot archive ran, so deadline and priority are unknown
    // (the running service archives lane entries as they are added)
    const norm = (v: object | undefined): object => ({ ...v, deadline: undefined, priority: undefined });
    assert.deepEqual(norm(t), norm(await readTask(rs, keys, id)));
  }
  for (const id of ids.cancelled) assert.equal((await readTask(ra, keys, id))?.status, 'cancelled');
  // a worker reading the restored lanes gets every unfinished task once, in-flight ones with their
  // checkpoint at once, the others once the hold is over (workers may write back a checkpoint the
  // archive missed meanwhile) and the supervisor promoted them
  const got = new Map<string, ReturnType<typeof decodeTaskEntry>>();
  const readLanes = async (): Promise<string[]> => {
    const now: string[] = [];
    for (const lane of keys.lanes) {
      const reply = (await ra.xreadgroup('GROUP', WORKERS_GROUP, 'w9', 'COUNT', 100, 'STREAMS', lane, '>')) as [string, [string, string[]][]][] | null;
      for (const [, fields] of reply?.[0]?.[1] ?? []) {
        const d = decodeTaskEntry(fields);
        assert.ok(d.ok);
        assert.ok(!got.has(d.value.taskId));
        got.set(d.value.taskId, d);
        now.push(d.value.taskId);
      }
    }
    return now.sort();
  };
  assert.deepEqual(await readLanes(), [...ids.flight].sort());
  const held = await ra.zrange(keys.delayed, '0', '-1', 'WITHSCORES');
  assert.deepEqual(held.filter((_, i) => i % 2 === 0).sort(), [...ids.queued].sort());
  assert.ok(held.filter((_, i) => i % 2 === 1).every((due) => Number(due) === RESTORED_AT + HOLD_MS), 'due when the hold ends');
  const tr = new Transitions(ra, keys);
  assert.equal((await promoteDue(ra, keys, tr, RESTORED_AT + HOLD_MS - 1)).promoted, 0, 'not before');
  assert.equal((await promoteDue(ra, keys, tr, RESTORED_AT + HOLD_MS)).promoted, ids.queued.length);
  assert.deepEqual(await readLanes(), [...ids.queued].sort());
  for (const id of ids.flight) {
    const d = got.get(id);
    assert.ok(d?.ok);
    assert.deepEqual({ p: d.value.checkpoint?.provider, id: d.value.checkpoint?.providerTaskId, attempt: d.value.attempt }, { p: 'sim', id: `p-${id}`, attempt: 2 });
    const t = await readTask(ra, keys, id);
    assert.equal(t?.status, 'queued');
    assert.equal(t?.providerTaskId, `p-${id}`);
  }
  for (const id of ids.queued) {
    const d = got.get(id);
    assert.ok(d?.ok && d.value.attempt === 1 && d.value.checkpoint === undefined);
  }
  assert.ok(await ra.get(keys.drEpoch));
});

test('restoring twice (into two empty servers) yields the same state', async () => {
  await restore({ redis: rb, keys, archive: dir, now: () => RESTORED_AT, holdMs: HOLD_MS });
  assert.deepEqual(await dump(rb, (k) => k === keys.drEpoch), raRestored);
});

test('a second restore into the restored Redis is refused and changes nothing', async () => {
  const before = await dump(rb);
  await assert.rejects(restore({ redis: rb, keys, archive: dir }), (err: unknown) => {
    assert.ok(err instanceof RestoreRefusedError);
    assert.match(err.message, /dr:epoch is set/);
    return true;
  });
  assert.deepEqual(await dump(rb), before);
});

test('restore into a non-empty Redis is refused, naming what is there', async () => {
  const c = await startRedis();
  const rc = new Redis(c.url);
  try {
    await rc.hset(keys.task('other'), 'status', 'queued');
    await rc.xadd(keys.heartbeats, '*', 'v', '1'); // live services' heartbeats alone would not block
    await assert.rejects(restore({ redis: rc, keys, archive: dir }), /partition is not empty: ss:\{p0\}:task:other \(hash\)/);
    assert.equal(await rc.dbsize(), 2);
    const r = fieldsToObject((await rc.xrange(keys.heartbeats, '-', '+'))[0]?.[1] ?? []);
    assert.equal(r.v, '1');
  } finally {
    rc.disconnect();
    await c.stop();
  }
});

test('idempotency keys come back with what is left of their TTL: a client retrying after the loss gets the same task, not a second one', async () => {
  const [s, d] = await Promise.all([startRedis(), startRedis()]);
  const [cs, cd] = [new Redis(s.url), new Redis(d.url)];
  try {
    await ensureWorkerGroups(cs, keys);
    const entry = (taskId: string) => ({
      taskId, type: 'turnstile' as const, params: { websiteURL: 'https://example.com', websiteKey: '0x4AAAAAAAB' },
      tenant: 'acme', priority: 'normal' as const, attempt: 1, submittedAt: Date.now(), deadline: Date.now() + 60_000, trace: {},
    });
    const long = new Transitions(cs, keys, { idempotencyTtlSeconds: 3600 });
    const short = new Transitions(cs, keys, { idempotencyTtlSeconds: 1 });
    assert.equal((await long.submit({ entry: entry('idem-kept'), idempotencyKey: 'order-1', now: Date.now() })).created, true);
    assert.equal((await short.submit({ entry: entry('idem-expired'), idempotencyKey: 'order-2', now: Date.now() - 5000 })).created, true);
    assert.equal((await long.submit({ entry: entry('no-key'), now: Date.now() })).created, true);
    const archive = tempDir();
    const writer = ArchiveWriter.open({ dir: archive, prefix: 'ss', partition: 'p0' });
    const reader = new Redis(s.url);
    const svc = new DrService({ redis: cs, reader, keys, writer, logger: silent, mode: 'manual', instance: 't', blockMs: 10 });
    await svc.catchUp();
    await svc.close();

    const report = await restore({ redis: cd, keys, archive, holdMs: 0 });
    assert.equal(report.idempotencyKeys, 1, 'the live key; the one whose TTL ran out stays gone');
    assert.equal(await cd.get(keys.idem('acme', 'order-1')), 'idem-kept');
    const ttl = await cd.ttl(keys.idem('acme', 'order-1'));
    assert.ok(ttl > 3500 && ttl <= 3600, `what is left of the TTL (${ttl} s)`);
    assert.equal(await cd.exists(keys.idem('acme', 'order-2')), 0);
    // The client's retry with the same key is an idempotent replay of the restored task.
    const retry = await new Transitions(cd, keys).submit({ entry: entry('would-be-second'), idempotencyKey: 'order-1', now: Date.now() });
    assert.deepEqual(retry, { created: false, taskId: 'idem-kept' });
    assert.equal(await cd.exists(keys.task('would-be-second')), 0);
  } finally {
    cs.disconnect();
    cd.disconnect();
    await Promise.all([s.stop(), d.stop()]);
  }
});
