/**
 * Restore while live services write (auto mode restores a wiped Redis under load): the
 * restore must neither fail nor drop or reorder anything live writers add meanwhile.
 * Regression: history streams were rewritten in one WATCHed MULTI, which every live
 * write aborted (20 tries, then `a live writer kept changing it` and dr-recovery halted);
 * requeued lane entries took explicit ids that failed once a live submit got ahead in
 * the lane between two chunks, leaving projections without their lane entry.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { startRedis, type RedisServer } from '@solvestream/testkit';
import { decodeEventEntry, decodeTaskEntry, ensureWorkerGroups, keyspace, readTask, Transitions } from '@solvestream/contracts';
import { ArchiveWriter, DrService, restore } from '../src';
import { entry, result, silent, tempDir, workload } from './helpers';

const keys = keyspace({ prefix: 'ss', partition: 'p0' });
let src: RedisServer;
let dst: RedisServer;
let rs: Redis;
let rd: Redis;

before(async () => {
  [src, dst] = await Promise.all([startRedis(), startRedis()]);
  [rs, rd] = [new Redis(src.url), new Redis(dst.url)];
});
after(async () => {
  rs.disconnect();
  rd.disconnect();
  await Promise.all([src.stop(), dst.stop()]);
});

test('merge restore while producers keep submitting: succeeds, keeps every live write behind the restored history', async () => {
  const ids = await workload(rs, keys, 60); // 240 tasks, ~900 entries
  const dir = tempDir();
  const writer = ArchiveWriter.open({ dir, prefix: 'ss', partition: 'p0' });
  const svc = new DrService({ redis: rs, reader: new Redis(src.url), keys, writer, logger: silent, mode: 'manual', instance: 't', blockMs: 10 });
  await svc.catchUp();
  await svc.close();

  // The wiped Redis: live producers submit without pause from before the restore until after it.
  await ensureWorkerGroups(rd, keys);
  const tr = new Transitions(rd, keys);
  const live: string[] = [];
  let stop = false;
  const writing = (async () => {
    for (let n = 0; !stop; n++) {
      const id = `live-${n}`;
      const r = await tr.submit({ entry: entry(id), now: Date.now() }); // lane `normal`, as most requeued tasks
      if (r.created) live.push(id);
    }
  })();
  while (live.length < 20) await new Promise((r) => setTimeout(r, 5));
  const report = await restore({ redis: rd, keys, archive: dir, mode: 'merge', chunk: 10, holdMs: 0 }); // no hold (restore.test.ts)
  const duringRestore = live.length;
  stop = true;
  await writing;

  assert.ok(duringRestore > 20, 'live writes went on during the restore');
  assert.equal(report.requeued, ids.flight.length + ids.queued.length);
  assert.equal(report.terminal, ids.done.length + ids.cancelled.length);
  const archivedEvents = (await rs.xrange(keys.events, '-', '+')).map(([id]) => id);
  const events = await rd.xrange(keys.events, '-', '+');
  assert.deepEqual(events.slice(0, archivedEvents.length).map(([id]) => id), archivedEvents, 'restored history first, original ids');
  const submittedLive = new Set(events.slice(archivedEvents.length).flatMap(([id, f]) => {
    const d = decodeEventEntry(id, f);
    return d.ok && d.value.event === 'submitted' ? [d.value.taskId] : [];
  }));
  assert.deepEqual(live.filter((id) => !submittedLive.has(id)), [], 'every live submit kept, behind the history');
  assert.ok((report.liveKept.events ?? 0) >= 20, `live events kept at the swap: ${report.liveKept.events}`);

  // Every unfinished archived task has exactly one lane entry and its projection names it.
  const inLanes = new Map<string, string[]>();
  for (const lane of keys.lanes) {
    for (const [id, f] of await rd.xrange(lane, '-', '+')) {
      const d = decodeTaskEntry(f);
      assert.ok(d.ok);
      inLanes.set(d.value.taskId, [...(inLanes.get(d.value.taskId) ?? []), id]);
    }
  }
  for (const id of [...ids.flight, ...ids.queued]) {
    assert.equal(inLanes.get(id)?.length, 1, `${id} requeued once`);
    const t = await readTask(rd, keys, id);
    assert.equal(t?.status, 'queued');
    assert.equal(await rd.hget(keys.task(id), 'entryId'), inLanes.get(id)?.[0], `${id}: projection names its lane entry`);
  }
  for (const id of live) assert.equal(inLanes.get(id)?.length, 1, `${id} (live) still queued once`);
  assert.equal(await rd.exists(keys.drStaging('events')), 0, 'no staging stream left behind');
});

test('merge restore over projections a worker rebuilt from stale deliveries after the wipe: unfinished adopted, finished overwritten', async () => {
  await rs.flushall();
  await rd.flushall();
  const ids = await workload(rs, keys, 2, 'z');
  const dir = tempDir();
  const writer = ArchiveWriter.open({ dir, prefix: 'ss', partition: 'p0' });
  const svc = new DrService({ redis: rs, reader: new Redis(src.url), keys, writer, logger: silent, mode: 'manual', instance: 't', blockMs: 10 });
  await svc.catchUp();
  await svc.close();

  // After the wipe a worker claims deliveries it had read before it. claimTask refuses
  // them (not pending in the new Redis) and writes nothing ...
  await ensureWorkerGroups(rd, keys);
  const tr = new Transitions(rd, keys);
  const [flight, done] = [ids.flight[0] as string, ids.done[0] as string];
  for (const id of [flight, done]) {
    const entryId = (await rs.hget(keys.task(id), 'entryId')) as string;
    const c = await tr.claim({ entry: entry(id, { priority: 'normal' }), entryId, consumer: 'stale', now: Date.now() });
    assert.deepEqual(c, { proceed: false, status: 'not-pending' });
    assert.equal(await rd.exists(keys.task(id)), 0);
    // ... but an older release's claimTask rebuilt the projection (`active`, no checkpoint,
    // no lane entry behind it); a rolling update can still run one. The restore copes:
    await rd.hset(keys.task(id), 'task', id, 'type', 'turnstile', 'tenant', 'acme', 'priority', 'normal', 'deadline', String(Date.now() + 60_000),
      'createdAt', String(Date.now()), 'status', 'active', 'attempt', '1', 'consumer', 'stale', 'entryId', entryId, 'updatedAt', String(Date.now()));
  }

  const report = await restore({ redis: rd, keys, archive: dir, mode: 'merge' });
  assert.deepEqual([report.adopted, report.overwritten], [1, 1]);
  assert.equal(report.requeued, ids.flight.length + ids.queued.length);

  // the unfinished one is delivered again, with its checkpoint (polled, not paid twice)
  const t = await readTask(rd, keys, flight);
  assert.equal(t?.providerTaskId, `p-${flight}`);
  const lane = (await rd.xrange(keys.lane('normal'), '-', '+')).map(([id, f]) => ({ id, d: decodeTaskEntry(f) }));
  const mine = lane.filter((x) => x.d.ok && x.d.value.taskId === flight);
  assert.equal(mine.length, 1);
  assert.equal(mine[0]?.d.ok && mine[0].d.value.checkpoint?.providerTaskId, `p-${flight}`);
  assert.equal(await rd.hget(keys.task(flight), 'entryId'), mine[0]?.id);
  // the finished one is final again: the stale worker's late result is not published
  assert.equal((await readTask(rd, keys, done))?.status, 'solved');
  const late = await tr.complete({ result: result(done), priority: 'normal', entryId: '', consumer: 'stale', now: Date.now() });
  assert.equal(late.published, false);
  const results = (await rd.xrange(keys.results, '-', '+')).filter(([, f]) => f.includes(done));
  assert.equal(results.length, 1, 'one result for the finished task');

  // a re-run (restores are re-runnable) neither adopts nor requeues again
  await rd.del(keys.drEpoch);
  const again = await restore({ redis: rd, keys, archive: dir, mode: 'merge' });
  assert.deepEqual([again.requeued, again.adopted, again.overwritten], [0, 0, 0]);
});
