/**
 * Chaos (b), second part: workers frozen in the middle of a submit burst.
 *
 * `lostSubmits` would be submits a frozen worker had sent (the provider accepted them)
 * but could not checkpoint before its lease ran out. On waking, its checkpoint is
 * refused as stale; until 2026-12-07 the task's new delivery had long since submitted
 * again (7–27 such double payments per run). Now the supervisor holds a reclaimed task
 * that was claimed without a checkpoint for RECLAIM_HOLD_MS (5 s) before delivering it
 * again, and the woken worker's checkpoint keeper writes the id it paid for onto the task
 * within CHECKPOINT_CHECK_MS (1 s): the next delivery polls it. So both are asserted 0
 * here, where every freeze (2.6 s) ends within lease + hold. A worker killed in that
 * window (chaos (a)) never writes its id: those stay counted, not asserted.
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
      providerSubmits: paid.submits, submittedTwice: paid.submittedTwice, lostSubmits: paid.lostSubmits, doublePaid: paid.doublePaid,
      reclaimed: events.filter((e) => e.event === 'reclaimed').length, held: events.filter((e) => e.event === 'reclaimed' && e.data.heldUntil).length,
      reasserted: events.filter((e) => e.event === 'provider-submitted' && e.data.reasserted).length,
    });
    for (const o of paid.offenders.slice(0, 2)) console.log(`  paid twice: ${JSON.stringify(o)}`);
    assert.ok(ids.every((id) => results.perTask.get(id)?.length === 1), 'exactly one result per task (holds)');
    assert.deepEqual(paid.offenders, [], 'no checkpointed task submitted again');
    assert.equal(paid.lostSubmits, 0, 'no submit of a frozen worker paid for twice: the reclaim hold let its checkpoint land first');
    assert.equal(paid.submittedTwice, 0);
  } finally {
    c.disconnect();
  }
});
