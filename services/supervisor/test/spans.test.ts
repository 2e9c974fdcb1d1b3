/**
 * The supervisor's spans, recorded in memory: a reclaim span and a dead-letter span,
 * each a root LINKED to the task's creation context (the producer's send span, carried
 * in the entry), and a dead-letter span for an undecodable entry.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { sleep, useRedis } from '@solvestream/testkit';
import { createLogger } from '@solvestream/core';
import { ensureWorkerGroups, flattenReadReply, keyspace, decodeTaskEntry, Transitions, WORKERS_GROUP, type TaskEntry } from '@solvestream/contracts';
import { injectTrace, startInMemoryTelemetry, startSendSpan, withSpan } from '@solvestream/telemetry';
import { Supervisor } from '../src/supervisor';

const telemetry = startInMemoryTelemetry('supervisor-test');
after(() => telemetry.shutdown());

let redis: Redis;
const ks = keyspace({ prefix: 'spans' });
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
    telemetry.reset();
  },
});

const supervisor = (maxFailures: number): Supervisor =>
  new Supervisor({ redis, keys: ks, transitions: tr, logger, consumer: 'sup', leaseMs: LEASE, maxFailures, intervalMs: 50, consumerSweepMs: 0, consumerIdleMs: LEASE, reclaimHoldMs: 0 });

/** Submits a task whose entry carries the context of a real `send` span; returns that span's id. */
async function submitTraced(taskId: string): Promise<string> {
  const send = startSendSpan(ks.lane('normal'), taskId);
  const e: TaskEntry = {
    taskId, type: 'turnstile', params: { websiteURL: 'https://x.example', websiteKey: '0x4AAAAAAAB' }, tenant: 't',
    priority: 'normal', attempt: 1, submittedAt: 1, deadline: Date.now() + 600_000, trace: withSpan(send, () => injectTrace()),
  };
  send.end();
  await tr.submit({ entry: e, now: 1 });
  return send.spanContext().spanId;
}

async function deadWorkerTakes(consumer: string): Promise<void> {
  for (const g of flattenReadReply(await redis.xreadgroup('GROUP', WORKERS_GROUP, consumer, 'COUNT', 10, 'STREAMS', ks.lane('normal'), '>'))) {
    const d = decodeTaskEntry(g.fields ?? []);
    if (d.ok) await tr.claim({ entry: d.value, entryId: g.id, consumer, now: Date.now() });
  }
}

test('a reclaim is a root span linked to the task; the last one, which dead-letters, is named dead-letter', async () => {
  const sendSpanId = await submitTraced('S1');
  const sup = supervisor(2);
  for (let round = 0; round < 2; round++) {
    await deadWorkerTakes(`dead-${round}`);
    await sleep(LEASE + 50);
    await sup.tick();
  }
  const lane = ks.lane('normal');
  const mine = telemetry.spans().filter((s) => s.attributes['solvestream.task.id'] === 'S1');
  assert.deepEqual(mine.map((s) => s.name), [`reclaim ${lane}`, `dead-letter ${lane}`]);
  for (const s of mine) {
    assert.equal(s.parentSpanContext, undefined, 'a root: the sweep is not part of the task timeline');
    assert.equal(s.links[0]?.context.spanId, sendSpanId, 'linked to the creation context');
  }
  assert.equal(mine[0]!.attributes['solvestream.reclaim.outcome'], 'requeued');
  assert.equal(mine[1]!.attributes['solvestream.reclaim.outcome'], 'dead-lettered');
  assert.equal(mine[1]!.attributes['solvestream.dead_letter.reason'], 'max-failures');
});

test('an undecodable entry held by a dead consumer gets a dead-letter span', async () => {
  await redis.xadd(ks.lane('normal'), '*', 'not', 'a task');
  await redis.xreadgroup('GROUP', WORKERS_GROUP, 'dead', 'STREAMS', ks.lane('normal'), '>');
  await sleep(LEASE + 50);
  await supervisor(3).tick();
  const dl = telemetry.spans().filter((s) => s.name === `dead-letter ${ks.lane('normal')}`);
  assert.equal(dl.length, 1);
  assert.equal(dl[0]!.attributes['solvestream.dead_letter.reason'], 'poison');
});
