import { test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { useRedis } from '@solvestream/testkit';
import { createLogger } from '@solvestream/core';
import { ensureWorkerGroups, flattenReadReply, decodeTaskEntry, keyspace, readTask, Transitions, WORKERS_GROUP, type TaskEntry } from '@solvestream/contracts';
import { buildOpsServer } from '../src/ops-server';
import { Supervisor } from '../src/supervisor';
import { run } from '../src/cli';

let redis: Redis;
const ks = keyspace({ prefix: 'dl' });
let tr: Transitions;
const logger = createLogger({ service: 't', level: 'silent' });

const fixture = useRedis({
  setup: (client) => {
    redis = client;
    tr = new Transitions(redis, ks);
  },
  reset: async () => {
    await ensureWorkerGroups(redis, ks);
  },
});

const entry = (taskId: string): TaskEntry => ({
  taskId, type: 'image', params: { body: Buffer.alloc(200, 1).toString('base64') }, tenant: 't', priority: 'low',
  attempt: 1, submittedAt: 1, deadline: Date.now() + 60_000, trace: {},
});

/** Puts one exhausted task (failed after retries) and one poison entry into dead-letter. */
async function seed(): Promise<{ exhausted: string; poison: string }> {
  await tr.submit({ entry: entry('X'), now: 1 });
  const [g] = flattenReadReply(await redis.xreadgroup('GROUP', WORKERS_GROUP, 'w', 'STREAMS', ks.lane('low'), '>'));
  const d = decodeTaskEntry(g!.fields!);
  assert.ok(d.ok);
  await tr.claim({ entry: d.value, entryId: g!.id, consumer: 'w', now: 2 });
  await tr.requeue({ entry: d.value, entryId: g!.id, consumer: 'w', mode: 'retry', reason: 'ERROR_SERVER_ERROR: boom', maxFailures: 1, errorCode: 'ERROR_SERVER_ERROR', now: 3 });
  await redis.xadd(ks.lane('low'), '*', 'garbage', '1');
  const [p] = flattenReadReply(await redis.xreadgroup('GROUP', WORKERS_GROUP, 'w', 'STREAMS', ks.lane('low'), '>'));
  await tr.deadLetterPoison({ stream: ks.lane('low'), entryId: p!.id, fields: p!.fields, reason: 'v: unsupported entry version null', consumer: 'w', now: 4 });
  const all = (await redis.xrange(ks.deadLetter, '-', '+')) as [string, string[]][];
  return { exhausted: all[0]![0], poison: all[1]![0] };
}

function app(adminToken?: string) {
  const supervisor = new Supervisor({ redis, keys: ks, transitions: tr, logger, consumer: 's', leaseMs: 1000, maxFailures: 3, intervalMs: 1000 });
  return buildOpsServer({ redis, keys: ks, transitions: tr, supervisor, logger, instance: 's', adminToken });
}

test('HTTP: list with filters, inspect, replay one as a new task, refuse undecodable, purge', async () => {
  const { exhausted, poison } = await seed();
  const a = app();
  const list = (await a.inject({ url: '/v1/dead-letter' })).json() as { items: { id: string; kind: string }[] };
  assert.deepEqual(list.items.map((i) => i.kind), ['exhausted', 'poison']);
  const onlyPoison = (await a.inject({ url: '/v1/dead-letter?kind=poison' })).json() as { items: unknown[] };
  assert.equal(onlyPoison.items.length, 1);
  assert.equal((await a.inject({ url: '/v1/dead-letter?limit=0' })).statusCode, 400);

  const detail = (await a.inject({ url: `/v1/dead-letter/${exhausted}` })).json() as { history: { mode: string }[]; errorCode: string; taskId: string };
  assert.equal(detail.taskId, 'X');
  assert.equal(detail.errorCode, 'ERROR_SERVER_ERROR');
  assert.deepEqual(detail.history.map((h) => h.mode), ['retry']);
  assert.equal((await a.inject({ url: '/v1/dead-letter/0-1' })).statusCode, 404);

  const replay = await a.inject({ method: 'POST', url: `/v1/dead-letter/${exhausted}/replay` });
  assert.equal(replay.statusCode, 200);
  const r = replay.json() as { taskId: string; mode: string };
  assert.equal(r.mode, 'new-task');
  assert.equal(r.taskId, `X~${exhausted}`);
  assert.equal((await readTask(redis, ks, r.taskId))?.status, 'queued');
  assert.equal((await readTask(redis, ks, 'X'))?.status, 'failed', 'the original keeps its one final outcome');

  const refused = await a.inject({ method: 'POST', url: `/v1/dead-letter/${poison}/replay` });
  assert.equal(refused.statusCode, 409);
  assert.match(refused.body, /still does not decode/);

  assert.equal((await a.inject({ method: 'POST', url: '/v1/dead-letter/purge', payload: {} })).statusCode, 400, 'bulk needs a filter or all');
  const purged = (await a.inject({ method: 'POST', url: '/v1/dead-letter/purge', payload: { all: true } })).json() as { purged: number };
  assert.equal(purged.purged, 1);
  assert.equal(await redis.xlen(ks.deadLetter), 0);
  await a.close();
});

test('HTTP: replay by filter; replaying twice never makes two tasks; admin token enforced', async () => {
  const { exhausted } = await seed();
  const a = app('s3cret-token');
  assert.equal((await a.inject({ url: '/v1/dead-letter' })).statusCode, 401);
  const auth = { authorization: 'Bearer s3cret-token' };
  assert.equal((await a.inject({ url: '/v1/dead-letter', headers: auth })).statusCode, 200);
  assert.equal((await a.inject({ url: '/health' })).statusCode, 200, 'probes need no token');
  const res = (await a.inject({ method: 'POST', url: '/v1/dead-letter/replay', headers: auth, payload: { filter: { errorCode: 'ERROR_SERVER_ERROR' } } })).json() as { replayed: { taskId: string }[]; refused: unknown[] };
  assert.equal(res.replayed.length, 1);
  // Again: the entry is gone, so nothing more happens; there is exactly one replayed task.
  const again = await a.inject({ method: 'POST', url: `/v1/dead-letter/${exhausted}/replay`, headers: auth });
  assert.equal(again.statusCode, 409);
  assert.deepEqual(await redis.keys('dl:{p0}:task:X~*'), [ks.task(`X~${exhausted}`)]);
  await a.close();
});

test('CLI: list, show, replay, purge; usage errors name the problem', async () => {
  const { exhausted, poison } = await seed();
  const env = { REDIS_URL: fixture.server.url, KEY_PREFIX: 'dl', PARTITION: 'p0' };
  const lines: string[] = [];
  const out = (s: string) => lines.push(s);
  assert.equal(await run(['list', '--kind', 'exhausted'], out, env), 0);
  assert.match(lines.pop()!, new RegExp(exhausted));
  assert.equal(await run(['show', poison], out, env), 0);
  assert.match(lines.pop()!, /unsupported entry version/);
  assert.equal(await run(['replay'], out, env), 2);
  assert.match(lines.pop()!, /give an entry id, filter flags, or --all/);
  assert.equal(await run(['list', '--limit', 'many'], out, env), 2);
  assert.match(lines.pop()!, /--limit: must be a number/);
  assert.equal(await run(['frobnicate'], out, env), 2);
  assert.equal(await run(['replay', exhausted], out, env), 0);
  assert.match(lines.pop()!, /new-task/);
  assert.equal(await run(['purge', '--all'], out, env), 0);
  assert.match(lines.pop()!, /"purged":1/);
  assert.equal(await redis.xlen(ks.deadLetter), 0);
});
