/**
 * Redis going away and coming back: long-polls survive, readiness follows Redis,
 * requests answer 503 REDIS_UNAVAILABLE meanwhile (never hang, never 500), and the
 * workers group comes back after a Redis that lost its data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@solvestream/core';
import { sleep, waitFor } from '@solvestream/testkit';
import { keepLanesReady } from '../src/lanes';
import { completeTask, get as getVia, startHarness, submit, VALID_PARAMS, type Harness } from './harness';

const get = (h: Harness, url: string) => getVia(h.app, url);

async function groupsOnEveryLane(h: Harness): Promise<boolean> {
  for (const lane of h.keys.lanes) {
    const groups = (await h.worker.xinfo('GROUPS', lane).catch(() => [])) as unknown[][];
    if (!groups.some((g) => g.includes('workers'))) return false;
  }
  return true;
}

test('a long-poll survives a Redis restart and still gets the result', async () => {
  const h = await startHarness({ aof: true });
  try {
    const { id } = await submit(h.app, { type: 'turnstile', params: VALID_PARAMS.turnstile });
    await sleep(1_100); // let AOF (everysec) persist the submit
    const started = Date.now();
    const poll = get(h, `/v1/tasks/${id}?wait=30`);
    await sleep(200);
    await h.server.restart();
    await sleep(500);
    await completeTask(h, id);
    const r = await poll;
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 'solved', JSON.stringify(r.json));
    assert.ok(Date.now() - started < 15_000, 'answered well before the 30 s timeout');
  } finally {
    await h.close();
  }
});

test('a result written while the listener is disconnected still wakes the long-poll', async () => {
  const h = await startHarness({ blockMs: 10_000 });
  try {
    const { id } = await submit(h.app, { type: 'turnstile', params: VALID_PARAMS.turnstile });
    const poll = get(h, `/v1/tasks/${id}?wait=30`);
    await sleep(200);
    // Drop only the listener's connection, then finish the task before it reconnects.
    await h.worker.client('KILL', 'ID', String(await findClientId(h, 'test-results')));
    await completeTask(h, id);
    const r = await poll;
    assert.equal(r.json.status, 'solved');
  } finally {
    await h.close();
  }
});

async function findClientId(h: Harness, name: string): Promise<number> {
  const list = String(await h.worker.client('LIST'));
  const line = list.split('\n').find((l) => l.includes(` name=${name} `));
  const m = line?.match(/^id=(\d+)/);
  if (!m) throw new Error(`no client named ${name}`);
  return Number(m[1]);
}

test('with Redis down: /health is 200 redis=down, readiness 503, requests 503 REDIS_UNAVAILABLE; all recover', async () => {
  const h = await startHarness({ aof: true });
  try {
    assert.equal((await get(h, '/health/ready')).status, 200);
    const { id } = await submit(h.app, { type: 'turnstile', params: VALID_PARAMS.turnstile });
    await sleep(1_100);
    await h.server.kill();

    const ready = await waitFor('readiness 503', async () => {
      const r = await get(h, '/health/ready');
      return r.status === 503 ? r : undefined;
    });
    assert.equal(ready.json.checks?.redis, 'down');
    assert.equal(ready.json.error?.code, 'REDIS_UNAVAILABLE');
    assert.equal((await get(h, '/readyz')).status, 503);

    const live = await get(h, '/health');
    assert.equal(live.status, 200);
    assert.equal(live.json.status, 'ok');
    assert.equal(live.json.service, 'producer');
    assert.equal(live.json.redis, 'down');
    assert.equal((await get(h, '/livez')).status, 200);

    const started = Date.now();
    const post = await h.app.inject({ method: 'POST', url: '/v1/tasks', payload: { type: 'turnstile', params: VALID_PARAMS.turnstile } });
    assert.equal(post.statusCode, 503);
    assert.equal(post.json().error.code, 'REDIS_UNAVAILABLE');
    const read = await get(h, `/v1/tasks/${id}`);
    assert.equal(read.status, 503);
    assert.equal(read.json.error?.code, 'REDIS_UNAVAILABLE');
    const poll = await get(h, `/v1/tasks/${id}?wait=10`);
    assert.equal(poll.status, 503, 'a long-poll that cannot read at all answers 503 at once');
    assert.ok(Date.now() - started < 3_000, 'fails fast instead of hanging');
    // Validation still answers without Redis: a client mistake is never a 5xx.
    const bad = await h.app.inject({ method: 'POST', url: '/v1/tasks', payload: { type: 'nope', params: {} } });
    assert.equal(bad.statusCode, 400);

    await h.server.restart();
    await waitFor('readiness 200 after restart', async () => (await get(h, '/health/ready')).status === 200);
    assert.equal((await get(h, '/health')).json.redis, 'up');
    const again = await get(h, `/v1/tasks/${id}`);
    assert.equal(again.status, 200);
    assert.equal(again.json.status, 'queued', 'the AOF kept the task');
    assert.equal((await submit(h.app, { type: 'turnstile', params: VALID_PARAMS.turnstile })).status, 202);
  } finally {
    await h.close();
  }
});

test('after a Redis that lost its data, the workers group comes back (on reconnect and via readiness)', async () => {
  const h = await startHarness({ aof: false });
  const stop = keepLanesReady(h.redis, h.keys, createLogger({ service: 'test', level: 'silent' }));
  try {
    assert.ok(await groupsOnEveryLane(h));
    await h.server.restart(); // no AOF: empty Redis, no groups
    await waitFor('groups recreated on reconnect', () => groupsOnEveryLane(h));
    stop();

    await h.worker.flushall();
    assert.equal(await groupsOnEveryLane(h), false);
    const r = await get(h, '/health/ready');
    assert.equal(r.status, 200);
    assert.equal(r.json.checks?.workersGroup, 'recreated');
    assert.ok(await groupsOnEveryLane(h));
    assert.equal((await get(h, '/health/ready')).json.checks?.workersGroup, 'present');
  } finally {
    stop();
    await h.close();
  }
});
