/**
 * Chaos (d): a provider that always fails.
 *
 * Every submit is refused with a transient error (or the provider is unreachable), from
 * start-up on. Two behaviours, both ending in a final `failed` answer for every client,
 * nothing left hanging and nothing charged:
 *
 * - Breaker out of the way (BREAKER_FAILURES huge): every attempt reaches the provider
 *   and fails; each task is retried through the delayed set (the supervisor promotes the
 *   retries) until it has failed MAX_FAILURES times, then goes to `dead-letter` with the
 *   reason and its whole attempt history.
 * - Default breaker: after a few failures the breaker opens and submits fail fast with
 *   NO_HEALTHY_PROVIDER. Depending on the worker's policy such a task is retried (and
 *   dead-lettered when that exhausts it) or waits in place without spending deliveries
 *   (worker commit 19988cd); either way it is failed by its deadline at the latest.
 *   These tasks are written with a 6 s deadline (through the same submit transition the
 *   producer uses), because the producer's deadlines are 90–300 s.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { startRedis } from '@solvestream/testkit';
import { randomBytes } from 'node:crypto';
import { keyspace, Transitions, type TaskParams, type TaskType } from '@solvestream/contracts';
import {
  auditResults, awaitAll, countEvents, countsLine, isAlive, markedTask, readDeadLetter, readEvents, runId,
  simStats, startSystem, submitPaced, waitDrained, type System,
} from '../src';

const MAX_FAILURES = 3;

interface HistoryItem { attempt: number; mode: string; reason: string }

/**
 * @param reason     what every dead-letter reason and history item must match
 * @param rootCause  the provider's own failure, which the histories must show at least once
 */
async function providerDown(label: string, faults: Record<string, unknown>, reason: RegExp, rootCause: RegExp): Promise<void> {
  const redis = await startRedis({ aof: true });
  const system = await startSystem({
    redisUrl: redis.url, workers: 2, supervisors: 1, leaseMs: 2000, supervisorIntervalMs: 200, maxFailures: MAX_FAILURES,
    simEnv: { SIM_FAULTS: JSON.stringify(faults) },
    workerEnv: { BREAKER_FAILURES: '10000' },
  }).catch(async (err: unknown) => { await redis.stop(); throw err; });
  const c = new Redis(redis.url);
  try {
    const ks = keyspace();
    const run = runId();
    const N = 40;
    const posted = await submitPaced(system.apiUrl, Array.from({ length: N }, (_, i) => markedTask(run, i)), { batch: 10, everyMs: 100 });
    const ids = posted.map((p) => (p.ok ? p.id : assert.fail(`submit refused: ${p.status} ${p.body}`)));
    const states = await awaitAll(system.apiUrl, ids, 180_000);
    const rest = await waitDrained(c, ks);

    const dead = await readDeadLetter(c, ks);
    const results = await auditResults(c, ks);
    const events = await readEvents(c, ks);
    const sim = await simStats(system.simUrl);
    const first = dead[0];
    const detail = first ? (await (await fetch(`${system.supervisorUrls[0]}/v1/dead-letter/${first.id}`)).json()) as { history?: HistoryItem[] } : {};
    const codes = [...new Set(states.map((s) => s.error?.code))].join(',');
    countsLine(`chaos(d) ${label}`, {
      accepted: N, answered: states.length, failed: states.filter((s) => s.status === 'failed').length,
      clientCodes: codes, deadLettered: dead.length, results: results.entries, duplicateResults: results.duplicates,
      retried: countEvents(events, 'retried'), promoted: countEvents(events, 'promoted'),
      providerSubmits: sim.submits, accepted_at_provider: sim.acceptedSubmits, charges: sim.charges,
      leftInLanes: rest.lanes, pending: rest.pending, delayed: rest.delayed,
    });
    if (first) console.log(`  e.g. dead-letter ${first.task}: ${first.reason} history=${first.history}`);

    assert.ok(states.every((s) => s.status === 'failed'), 'every client sees failed');
    assert.ok(states.every((s) => typeof s.error?.code === 'string' && s.error.code.length > 0), 'with an error code');
    assert.equal(dead.length, N, 'one dead-letter entry per task');
    const byTask = new Map(dead.map((d) => [d.task, d]));
    for (const [i, id] of ids.entries()) {
      const d = byTask.get(id);
      assert.ok(d, `task ${i} dead-lettered`);
      assert.equal(d.kind, 'exhausted');
      assert.match(d.reason ?? '', reason, `task ${i}: the reason names the problem`);
      const history = JSON.parse(d.history ?? '[]') as HistoryItem[];
      assert.deepEqual(history.map((h) => h.attempt), Array.from({ length: MAX_FAILURES }, (_, k) => k + 1), `task ${i}: every attempt in the history`);
      assert.ok(history.every((h) => h.mode === 'retry' && reason.test(h.reason)), `task ${i}: each attempt says why it failed`);
      const r = results.perTask.get(id);
      assert.equal(r?.length, 1, `task ${i}: exactly one result`);
      assert.equal(r?.[0]?.outcome, 'failed');
      assert.equal(r?.[0]?.errorCode, states[i]?.error?.code, `task ${i}: the client sees the result's code`);
    }
    assert.ok(dead.some((d) => rootCause.test(d.history ?? '')), 'the histories show the provider\'s own error');
    assert.equal(detail.history?.length, MAX_FAILURES, 'the operator sees the history over HTTP');
    assert.equal(results.entries, N);
    assert.equal(sim.acceptedSubmits, 0);
    assert.equal(sim.charges, 0, 'nothing was charged');
    assert.deepEqual(rest, { lanes: 0, pending: 0, delayed: 0 }, 'no task left queued, pending or delayed');
    for (const p of system.all()) assert.ok(isAlive(p), `${p.name} still running`);
  } finally {
    c.disconnect();
    await system.stop();
    await redis.stop();
  }
}

test('every submit refused with a transient error: dead-letter with history, clients see failed', () =>
  providerDown('errors rate 1', { errors: { rate: 1, on: 'submit', codes: ['ERROR_SERVER_ERROR'] } }, /ERROR_SERVER_ERROR/, /ERROR_SERVER_ERROR/));

test('provider unreachable (connections refused): dead-letter with history, clients see failed', () =>
  providerDown('outage', { outage: { mode: 'refuse', on: 'submit' } }, /NETWORK/, /NETWORK/));

test('provider unreachable, default breaker: every task failed by its deadline at the latest; clients see failed', async () => {
  const redis = await startRedis({ aof: true });
  let system: System | undefined;
  const c = new Redis(redis.url);
  try {
    system = await startSystem({
      redisUrl: redis.url, workers: 2, supervisors: 1, leaseMs: 2000, supervisorIntervalMs: 200, maxFailures: MAX_FAILURES,
      simEnv: { SIM_FAULTS: JSON.stringify({ outage: { mode: 'refuse', on: 'submit' } }) },
    });
    const ks = keyspace();
    const transitions = new Transitions(c, ks);
    const run = runId();
    const N = 40;
    const now = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < N; i++) {
      const t = markedTask(run, i);
      const taskId = randomBytes(16).toString('base64url').slice(0, 21);
      await transitions.submit({
        entry: { taskId, type: t.type as TaskType, params: t.params as TaskParams, tenant: 'default', priority: 'normal', attempt: 1, submittedAt: now, deadline: now + 6000, trace: {} },
        now,
      });
      ids.push(taskId);
    }
    const states = await awaitAll(system.apiUrl, ids, 120_000);
    const rest = await waitDrained(c, ks);
    const results = await auditResults(c, ks);
    const events = await readEvents(c, ks);
    const dead = await readDeadLetter(c, ks);
    countsLine('chaos(d) outage, default breaker', {
      accepted: N, answered: states.length, failed: states.filter((s) => s.status === 'failed').length,
      clientCodes: [...new Set(states.map((s) => s.error?.code))].join(','), results: results.entries, duplicateResults: results.duplicates,
      retried: countEvents(events, 'retried'), deadLettered: dead.length, leftInLanes: rest.lanes, pending: rest.pending, delayed: rest.delayed,
    });
    assert.ok(states.every((s) => s.status === 'failed' && typeof s.error?.code === 'string'), 'every client sees failed, with a code');
    assert.ok(ids.every((id) => results.perTask.get(id)?.length === 1), 'exactly one result per task');
    assert.equal(results.entries, N);
    assert.deepEqual(rest, { lanes: 0, pending: 0, delayed: 0 }, 'no task left queued, pending or delayed');
    for (const p of system.all()) assert.ok(isAlive(p), `${p.name} still running`);
  } finally {
    c.disconnect();
    await system?.stop();
    await redis.stop();
  }
});
