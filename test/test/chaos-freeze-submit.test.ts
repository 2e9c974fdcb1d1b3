/**
 * Chaos (b), second part: workers frozen in the middle of a submit burst.
 *
 * `lostSubmits` here are submits a frozen worker had sent (the provider accepted them)
 * but could not checkpoint before its lease ran out: on waking its checkpoint is refused
 * as stale, and the task's new delivery had already submitted again. That is the same
 * window as a kill between submit and checkpoint, only as long as the freeze; without
 * an idempotency key at the provider it cannot be closed. `doublePaid` is different.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { sleep, startRedis, type RedisServer } from '@solvestream/testkit';
import { keyspace } from '@solvestream/contracts';
import {
  auditResults, auditSubmits, awaitAll, countsLine, freeze, isAlive, markedTask, readEvents, runId, simTasks,
  startSystem, submitPaced, thaw, waitDrained, type System,
} from '../src';

const LEASE_MS = 2000;

let redis: RedisServer;
let system: System;

before(async () => {
  redis = await startRedis({ aof: true });
  system = await startSystem({
    redisUrl: redis.url, workers: 2, supervisors: 1, leaseMs: LEASE_MS, supervisorIntervalMs: 200, maxFailures: 50,
    simEnv: { SIM_LATENCY_SCALE: '0.05' },
  });
});
after(async () => {
  await system?.stop();
  await redis?.stop();
});

/**
 * A worker checks its lease before paying for a submit, but the submit may then wait in
 * the provider HTTP layer's queue (at most 64 requests in flight per provider). Frozen
 * in that wait past its lease, the task is reclaimed, resubmitted and checkpointed
 * elsewhere. Before the send guard (services/worker/src/send-guard.ts) the queued
 * request still went out on waking and was charged a second time: doublePaid 13, 1, 0,
 * 0 in four runs of six 2.6 s freezes during a 1,500-task burst. The guard re-checks the
 * lease when the request leaves the queue.
 */
test('a worker frozen while its submits wait for a connection pays for no known solve', async () => {
  const N = 1500;
  const run = runId();
  const c = new Redis(redis.url);
  const ks = keyspace();
  try {
    const submitting = submitPaced(system.apiUrl, Array.from({ length: N }, (_, i) => markedTask(run, i)), { batch: 50, everyMs: 100 });
    const live = system.workers.filter(isAlive);
    for (let k = 0; k < 6; k++) {
      await sleep(700);
      const w = live[k % live.length] as NonNullable<System['workers'][0]>;
      freeze(w);
      await sleep(LEASE_MS + 600);
      thaw(w);
    }
    const posted = await submitting;
    const ids = posted.map((p) => (p.ok ? p.id : assert.fail(`submit refused: ${p.status}`)));
    const states = await awaitAll(system.apiUrl, ids, 180_000);
    await waitDrained(c, ks);
    const events = await readEvents(c, ks);
    const paid = auditSubmits(run, ids, await simTasks(system.simUrl, `m=${run}-`), events);
    const results = await auditResults(c, ks);
    countsLine('chaos(b) freeze during submits', {
      accepted: N, solved: states.filter((s) => s.status === 'solved').length, duplicateResults: results.duplicates,
      providerSubmits: paid.submits, lostSubmits: paid.lostSubmits, doublePaid: paid.doublePaid,
    });
    for (const o of paid.offenders.slice(0, 2)) console.log(`  paid twice: ${JSON.stringify(o)}`);
    assert.ok(ids.every((id) => results.perTask.get(id)?.length === 1), 'exactly one result per task (holds)');
    assert.deepEqual(paid.offenders, [], 'no checkpointed task submitted again');
  } finally {
    c.disconnect();
  }
});
