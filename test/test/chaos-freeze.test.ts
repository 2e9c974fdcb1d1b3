/**
 * Chaos (b): a worker frozen (SIGSTOP) past its lease, then woken (SIGCONT).
 *
 * While it is frozen the supervisor reclaims what it held and the other worker finishes
 * those tasks from their checkpoints. When it wakes it still believes it holds them: its
 * lease renewal finds them gone, or its poll gets the answer and `completeTask` records
 * a `duplicate` instead of publishing. Either way no second result appears.
 *
 * The freeze happens once every task is checkpointed (in its poll phase). A freeze in
 * the instant between the worker's last lease check and its submit request leaving the
 * process would let it pay for a submit after waking; that window is the limit of
 * lease-based fencing without a provider-side idempotency key (see the report in
 * chaos-kill for how it is counted), and is not what this test provokes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { sleep, startRedis, waitFor, type RedisServer } from '@solvestream/testkit';
import { keyspace } from '@solvestream/contracts';
import {
  auditResults, auditSubmits, awaitAll, countEvents, countsLine, freeze, isAlive, markedTask, pendingByConsumer,
  readEvents, runId, simTasks, startSystem, submitPaced, thaw, waitDrained, type System,
} from '../src';

const LEASE_MS = 2000;
const SLOW = '3000-5000'; // every type solves in 3–5 s: frozen tasks sit in their poll phase

let redis: RedisServer;
let system: System;

before(async () => {
  redis = await startRedis({ aof: true });
  system = await startSystem({
    redisUrl: redis.url,
    workers: 2,
    supervisors: 1,
    leaseMs: LEASE_MS,
    supervisorIntervalMs: 200,
    simEnv: {
      SIM_LATENCY_SCALE: '1',
      SIM_LATENCY_RECAPTCHA_V2_MS: SLOW, SIM_LATENCY_RECAPTCHA_V3_MS: SLOW, SIM_LATENCY_HCAPTCHA_MS: SLOW,
      SIM_LATENCY_TURNSTILE_MS: SLOW, SIM_LATENCY_IMAGE_MS: SLOW,
    },
  });
});
after(async () => {
  await system?.stop();
  await redis?.stop();
});

test('a worker frozen past its lease and woken up publishes no second result', async () => {
  const N = 100;
  const run = runId();
  const c = new Redis(redis.url);
  const ks = keyspace();
  try {
    const posted = await submitPaced(system.apiUrl, Array.from({ length: N }, (_, i) => markedTask(run, i)), { batch: N, everyMs: 0 });
    const ids = posted.map((p) => (p.ok ? p.id : assert.fail(`submit refused: ${p.status} ${p.body}`)));

    // Freeze, once every task is checkpointed, the worker holding the most of them.
    const held = await waitFor('every task checkpointed', async () => {
      const checkpointed = new Set((await readEvents(c, ks)).filter((e) => e.event === 'provider-submitted').map((e) => e.taskId));
      return checkpointed.size === N ? pendingByConsumer(c, ks) : undefined;
    }, { timeoutMs: 30_000, intervalMs: 50 });
    const frozen = [...system.workers].sort((a, b) => (held[b.name] ?? 0) - (held[a.name] ?? 0))[0] as NonNullable<System['workers'][0]>;
    const heldAtFreeze = held[frozen.name] ?? 0;
    freeze(frozen);
    const frozenAt = Date.now();

    // The other worker finishes everything, the frozen one's tasks after their reclaim.
    const states = await awaitAll(system.apiUrl, ids, 120_000);
    await sleep(Math.max(0, frozenAt + 3 * LEASE_MS - Date.now())); // frozen well past the lease in any case
    const resultsBeforeWake = (await auditResults(c, ks)).entries;

    thaw(frozen);
    const wokenAt = Date.now();
    // Give it several renewal periods to notice, and its pollers time to answer.
    await waitFor('the woken worker holds nothing', async () => ((await pendingByConsumer(c, ks))[frozen.name] ?? 0) === 0, { timeoutMs: 30_000 });
    await sleep(2 * LEASE_MS);
    const resultsAfterWake = (await auditResults(c, ks)).entries;

    // It is alive and useful after waking: more tasks all come back.
    const more = await submitPaced(system.apiUrl, Array.from({ length: 20 }, (_, i) => markedTask(run, N + i)), { batch: 20, everyMs: 0 });
    const moreIds = more.map((p) => (p.ok ? p.id : assert.fail(`submit refused: ${p.status}`)));
    const moreStates = await awaitAll(system.apiUrl, moreIds, 120_000);
    await waitDrained(c, ks);

    const allIds = [...ids, ...moreIds];
    const results = await auditResults(c, ks);
    const events = await readEvents(c, ks);
    const paid = auditSubmits(run, allIds, await simTasks(system.simUrl, `m=${run}-`), events);
    const frozenTasks = new Set(events.filter((e) => e.event === 'claimed' && e.data.consumer === frozen.name && e.at < frozenAt).map((e) => e.taskId));
    const reclaimedFromFrozen = new Set(events.filter((e) => e.event === 'reclaimed' && frozenTasks.has(e.taskId)).map((e) => e.taskId));
    const publishedAfterWake = events.filter((e) => (e.event === 'solved' || e.event === 'failed') && e.data.consumer === frozen.name && e.at >= wokenAt && frozenTasks.has(e.taskId));
    const dupByFrozen = events.filter((e) => e.event === 'duplicate' && e.data.consumer === frozen.name).length;
    const leaseLostLines = frozen.lines.filter((l) => l.includes('lease lost')).length;
    countsLine('chaos(b) SIGSTOP/SIGCONT', {
      accepted: allIds.length, answered: states.length + moreStates.length,
      solved: [...states, ...moreStates].filter((s) => s.status === 'solved').length,
      heldAtFreeze, reclaimedFromFrozen: reclaimedFromFrozen.size, frozenMs: wokenAt - frozenAt,
      resultsBeforeWake, resultsAfterWake, results: results.entries, duplicateResults: results.duplicates,
      publishedByWokenWorker: publishedAfterWake.length, duplicateEventsByWokenWorker: dupByFrozen,
      duplicateEvents: countEvents(events, 'duplicate'), leaseLostLogLines: leaseLostLines,
      providerSubmits: paid.submits, lostSubmits: paid.lostSubmits, doublePaid: paid.doublePaid, charges: paid.charges,
    });

    assert.ok(heldAtFreeze > 0 && reclaimedFromFrozen.size > 0, 'the frozen worker held tasks and they were reclaimed');
    assert.ok([...states, ...moreStates].every((s) => s.status === 'solved'), 'every task solved');
    assert.equal(resultsBeforeWake, N, 'one result per task while the worker was frozen');
    assert.equal(resultsAfterWake, N, 'waking up added no result');
    assert.deepEqual(publishedAfterWake, [], 'the woken worker published nothing for the tasks it had held');
    assert.equal(results.entries, allIds.length);
    assert.equal(results.duplicates, 0);
    assert.ok(allIds.every((id) => results.perTask.get(id)?.length === 1), 'exactly one results entry per task');
    assert.deepEqual(paid.offenders, [], 'no checkpointed task submitted again');
    for (const p of system.all()) assert.ok(isAlive(p), `${p.name} still running`);
  } finally {
    c.disconnect();
  }
});

