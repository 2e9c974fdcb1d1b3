/**
 * Chaos (e): SIGTERM drain under load loses nothing.
 *
 * Solves take 3–6 s and the drain grace is 1 s, so a worker told to stop holds tasks it
 * cannot finish. It must stop reading, exit 0 within its grace, and hand the rest back
 * at once with their checkpoints. The lease is 60 s here: had anything waited for the
 * lease (a supervisor reclaim), it could not finish within a minute of the SIGTERM.
 * Every task still gets exactly one result, and no task is submitted to the provider
 * twice. A second signal during a drain exits at once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { sleep, startRedis, waitFor, type RedisServer } from '@solvestream/testkit';
import { keyspace } from '@solvestream/contracts';
import {
  auditResults, auditSubmits, awaitAll, countEvents, countsLine, isAlive, markedTask, pendingByConsumer, readEvents,
  runId, simTasks, startSystem, submitPaced, terminate, waitDrained, type System,
} from '../src';

const LEASE_MS = 60_000;
const GRACE_MS = 1000;
const SLOW = '3000-6000';

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
    workerEnv: { DRAIN_GRACE_MS: String(GRACE_MS) },
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

test('SIGTERM under load: exit 0 within the grace, unfinished tasks handed back at once, one result each', async () => {
  const N = 300;
  const run = runId();
  const c = new Redis(redis.url);
  const ks = keyspace();
  try {
    const submitting = submitPaced(system.apiUrl, Array.from({ length: N }, (_, i) => markedTask(run, i)), { batch: 30, everyMs: 300 });
    // The victim: whichever worker holds 20 tasks first.
    const held = await waitFor('a worker holding 20 tasks', async () => {
      const h = await pendingByConsumer(c, ks);
      return system.workers.some((w) => (h[w.name] ?? 0) >= 20) ? h : undefined;
    }, { timeoutMs: 30_000 });
    const victim = system.workers.find((w) => (held[w.name] ?? 0) >= 20) as NonNullable<System['workers'][0]>;
    const heldAtTerm = held[victim.name] ?? 0;
    const termAt = Date.now();
    const exit = await terminate(victim, 60_000);

    const posted = await submitting; // load kept arriving during the drain
    const ids = posted.map((p) => (p.ok ? p.id : assert.fail(`submit refused: ${p.status} ${p.body}`)));
    const states = await awaitAll(system.apiUrl, ids, 2 * LEASE_MS);
    const rest = await waitDrained(c, ks);

    const events = await readEvents(c, ks);
    const results = await auditResults(c, ks);
    const paid = auditSubmits(run, ids, await simTasks(system.simUrl, `m=${run}-`), events);
    const handedBack = new Set(events.filter((e) => e.event === 'handed-back' && e.data.consumer === victim.name).map((e) => e.taskId));
    const doneAfterHandBack = [...handedBack].map((id) => results.perTask.get(id)?.[0]?.completedAt ?? Infinity);
    const slowest = Math.max(...doneAfterHandBack) - termAt;
    const finishedDuringGrace = events.filter((e) => e.event === 'solved' && e.data.consumer === victim.name && e.at >= termAt).length;
    countsLine('chaos(e) SIGTERM drain', {
      accepted: ids.length, answered: states.length, solved: states.filter((s) => s.status === 'solved').length,
      heldAtTerm, exitCode: String(exit.code), exitMs: exit.ms, graceMs: GRACE_MS, finishedDuringGrace, handedBack: handedBack.size,
      handedBackDoneWithinMs: slowest, leaseMs: LEASE_MS, reclaimed: countEvents(events, 'reclaimed'),
      results: results.entries, duplicateResults: results.duplicates, providerSubmits: paid.submits,
      submittedTwice: paid.submittedTwice, doublePaid: paid.doublePaid, charges: paid.charges,
    });

    assert.equal(exit.signal, null, 'the worker exited on its own');
    assert.equal(exit.code, 0, 'and cleanly (a forced exit after grace + 15 s would be 1)');
    assert.ok(victim.lines.some((l) => l.includes('worker drained')), 'it drained');
    assert.ok(handedBack.size > 0, 'it handed unfinished tasks back');
    assert.equal(countEvents(events, 'reclaimed'), 0, 'nothing waited for the lease');
    assert.ok(slowest < LEASE_MS, `handed-back tasks finished ${slowest} ms after the SIGTERM, before any lease could expire`);
    assert.ok(states.every((s) => s.status === 'solved'), 'every task solved');
    assert.equal(results.entries, N);
    assert.equal(results.duplicates, 0);
    assert.ok(ids.every((id) => results.perTask.get(id)?.length === 1), 'exactly one results entry per task');
    assert.equal(paid.submits, N, 'each task submitted to the provider once: hand-backs carried their checkpoints');
    assert.equal(paid.doublePaid, 0);
    assert.deepEqual(rest, { lanes: 0, pending: 0, delayed: 0 });
    for (const p of system.all().filter((x) => x !== victim)) assert.ok(isAlive(p), `${p.name} still running`);
  } finally {
    c.disconnect();
  }
});

test('a second signal during a drain exits at once', async () => {
  const run = runId();
  const c = new Redis(redis.url);
  const ks = keyspace();
  try {
    // A long grace, so that only the second signal can make this drain end early.
    const w = await system.addWorker('worker-impatient', { DRAIN_GRACE_MS: '30000' });
    // Feed tasks until it holds some (the other live worker may take the first ones).
    let i = 0;
    await waitFor('the worker holds tasks', async () => {
      if (((await pendingByConsumer(c, ks))[w.name] ?? 0) > 0) return true;
      await submitPaced(system.apiUrl, Array.from({ length: 10 }, () => markedTask(run, i++)), { batch: 10, everyMs: 0 });
      return false;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    const t0 = Date.now();
    w.signal('SIGTERM');
    await w.waitForLine('shutting down');
    await sleep(100);
    w.signal('SIGTERM');
    const { code } = await w.exited();
    countsLine('chaos(e) second signal', { exitCode: String(code), exitMs: Date.now() - t0, graceMs: 30_000 });
    assert.equal(code, 1, 'forced exit (a completed drain would exit 0)');
    assert.ok(w.lines.some((l) => l.includes('second signal')), 'it said why');
  } finally {
    c.disconnect();
  }
});
