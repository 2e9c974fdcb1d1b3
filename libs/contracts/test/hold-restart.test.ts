/**
 * The reclaim hold across a Redis crash (AOF `everysec`, kill -9, restart). A held task
 * lives only in the delayed set and its entry hash, not in a lane: a restart must not
 * lose it, and the paid-for id its frozen worker writes back afterwards must still
 * reach its next delivery. Killed inside the fsync window the hold itself may be lost
 * (DESIGN.md: about a second of writes): then the lane entry it acked is still pending
 * and a later reclaim finds it. Never neither — that would be a lost task.
 */
import { after, before, test } from 'node:test';
import { readdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { startRedis, waitFor, type RedisServer } from '@solvestream/testkit';
import {
  decodeTaskEntry, ensureWorkerGroups, flattenReadReply, keyspace, readTask, Transitions, WORKERS_GROUP, type TaskEntry,
} from '../src';
import { wakeAndRedeliver } from './hold';

let server: RedisServer;
let redis: Redis;
let tr: Transitions;
const ks = keyspace({ prefix: 'hr' });

before(async () => {
  server = await startRedis({ aof: true });
  // Reconnects by itself after the restart; commands wait for it (offline queue).
  redis = new Redis(server.url, { maxRetriesPerRequest: null, retryStrategy: () => 50 });
  tr = new Transitions(redis, ks);
  await ensureWorkerGroups(redis, ks);
});
after(async () => {
  redis.disconnect();
  await server.stop();
});

const entry = (taskId: string): TaskEntry => ({
  taskId, type: 'recaptcha_v3', params: { websiteURL: 'https://x.example', websiteKey: 'k' }, tenant: 'acme',
  priority: 'high', attempt: 1, submittedAt: 1, deadline: 9_999_999_999_999, trace: {},
});

/** Submitted, read and claimed by w1; its lease ran out and the supervisor holds it. */
async function heldTask(taskId: string): Promise<string> {
  const entryId = await stalledTask(taskId);
  await hold(taskId, entryId);
  return entryId;
}

/** Submitted, read and claimed by w1, whose lease ran out: the supervisor took the entry over. */
async function stalledTask(taskId: string): Promise<string> {
  await tr.submit({ entry: entry(taskId), now: 1 });
  const read = flattenReadReply(await redis.xreadgroup('GROUP', WORKERS_GROUP, 'w1', 'COUNT', 10, 'STREAMS', ks.lane('high'), '>'));
  const mine = read.find((r) => r.fields && decodeTaskEntry(r.fields).ok && (decodeTaskEntry(r.fields) as { value: TaskEntry }).value.taskId === taskId);
  assert.ok(mine);
  await tr.claim({ entry: entry(taskId), entryId: mine.id, consumer: 'w1', now: 2 });
  await redis.xclaim(ks.lane('high'), WORKERS_GROUP, 'sup', 0, mine.id);
  return mine.id;
}

async function hold(taskId: string, entryId: string): Promise<void> {
  const r = await tr.requeue({ entry: entry(taskId), entryId, consumer: 'sup', mode: 'reclaim', reason: 'lease expired', maxFailures: 5, dueAt: 5_010, now: 10 });
  assert.deepEqual(r, { kind: 'delayed' });
}

/** The AOF file Redis appends to now (Redis 7: appendonlydir/<name>.<n>.incr.aof). */
function incrAof(): string {
  const dir = join(server.dir, 'appendonlydir');
  const f = readdirSync(dir).filter((n) => n.endsWith('.incr.aof')).sort().pop();
  assert.ok(f, 'an incr AOF file');
  return join(dir, f);
}

async function crashAndRestart(): Promise<void> {
  await server.kill('SIGKILL');
  await server.restart();
  await waitFor('the client reconnected', async () => (await redis.ping()) === 'PONG');
}

test('a hold written before the crash survives it; the frozen worker\'s id written after it reaches the next delivery', async () => {
  await heldTask('H1');
  await new Promise((r) => setTimeout(r, 1_500)); // past the everysec fsync
  await crashAndRestart();

  assert.equal(await redis.zscore(ks.delayed, 'H1'), '5010', 'still held');
  assert.equal(await redis.xlen(ks.lane('high')), 0, 'not delivered early');
  // w1 wakes after the restart: its checkpoint is stale, its keeper writes the id back.
  await wakeAndRedeliver(redis, ks, tr, 'H1', 5_010);
});

test('writes lost with the last second of AOF leave each task held or back in its lane, never neither', async (t) => {
  // A kill -9 alone loses nothing here (Redis has written the AOF into the page cache);
  // a machine crash loses what was not fsynced yet. Simulated: the AOF is cut back to
  // where it was before the last holds, as if those writes never reached the disk.
  const ids = ['K1', 'K2', 'K3', 'K4', 'K5'];
  const entryIds = new Map<string, string>();
  for (const id of ids) entryIds.set(id, await stalledTask(id));
  await hold('K1', entryIds.get('K1')!);
  await hold('K2', entryIds.get('K2')!);
  await redis.ping(); // the AOF is written before a reply: everything so far is in the file
  const aof = incrAof();
  const keep = statSync(aof).size;
  for (const id of ['K3', 'K4', 'K5']) await hold(id, entryIds.get(id)!);
  await redis.ping();
  assert.ok(statSync(aof).size > keep, 'the last holds were appended');
  await server.kill('SIGKILL');
  truncateSync(aof, keep);
  await server.restart();
  await waitFor('the client reconnected', async () => (await redis.ping()) === 'PONG');

  const seen: Record<string, string> = {};
  for (const id of ids) {
    const held = (await redis.zscore(ks.delayed, id)) !== null;
    // The hold acks and deletes the lane entry in the same step: if the hold was lost, the
    // entry is back, pending for the supervisor, whose next reclaim finds it.
    const entryId = entryIds.get(id) ?? '0-0';
    const inLane = ((await redis.xrange(ks.lane('high'), entryId, entryId)) as unknown[]).length > 0;
    assert.ok(held !== inLane, `${id}: held=${held} inLane=${inLane}`);
    seen[id] = held ? 'held' : 'in lane';
  }
  t.diagnostic(`after the crash: ${JSON.stringify(seen)}`);
  assert.deepEqual(seen, { K1: 'held', K2: 'held', K3: 'in lane', K4: 'in lane', K5: 'in lane' });
  // The lost holds are redone by the next reclaim: the entries are pending for `sup`.
  const pending = (await redis.xpending(ks.lane('high'), WORKERS_GROUP, '-', '+', 10, 'sup')) as [string][];
  assert.deepEqual(pending.map((p) => p[0]).sort(), ['K3', 'K4', 'K5'].map((id) => entryIds.get(id)).sort());
  for (const id of ['K3', 'K4', 'K5']) await hold(id, entryIds.get(id)!);
  assert.equal(await redis.zcard(ks.delayed), 5 + 0, 'every task held again'); // H1 was promoted by the first test
  assert.equal((await readTask(redis, ks, 'K3'))?.status, (await readTask(redis, ks, 'K1'))?.status, 'as a hold that survived');
});
