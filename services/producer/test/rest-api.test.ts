/**
 * REST additions against a real Redis: idempotency (50 concurrent identical submits →
 * one task), callbackUrl validation, the event history, cancel, stats and /docs.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { completeTask, startHarness, VALID_PARAMS, type Harness } from './harness';

let h: Harness;
before(async () => {
  h = await startHarness({ dispatcher: true });
});
after(async () => {
  await h.close();
});

const TS = { type: 'turnstile', params: VALID_PARAMS.turnstile };
async function post(body: unknown, headers: Record<string, string> = {}) {
  const res = await h.app.inject({ method: 'POST', url: '/v1/tasks', headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify(body) });
  return { status: res.statusCode, json: res.json() as Record<string, unknown> & { id: string; error?: { code: string; field?: string } }, headers: res.headers };
}

test('idempotency: 50 concurrent identical submits create one task and all answer its id', async () => {
  const before = await h.worker.xlen(h.keys.lane('normal'));
  const replies = await Promise.all(Array.from({ length: 50 }, () => post({ ...TS, idempotencyKey: 'order-42' })));
  const ids = new Set(replies.map((r) => r.json.id));
  assert.equal(ids.size, 1, `one id: ${[...ids].join(',')}`);
  assert.equal(replies.filter((r) => r.status === 202).length, 1, 'exactly one 202');
  for (const r of replies.filter((x) => x.status !== 202)) {
    assert.equal(r.status, 200);
    assert.equal(r.headers['idempotent-replayed'], 'true');
  }
  assert.equal((await h.worker.xlen(h.keys.lane('normal'))) - before, 1, 'one lane entry');
  assert.equal(await h.worker.zcard(h.keys.openTasks('default')) >= 1, true);
  assert.equal(await h.worker.zscore(h.keys.openTasks('default'), [...ids][0]!) !== null, true, 'the open-task record of the losers was released, the winner kept');
});

test('idempotency: the header works too; the same key with another request is 409; a mismatch between header and body is 400', async () => {
  const a = await post(TS, { 'idempotency-key': 'hdr-1' });
  assert.equal(a.status, 202);
  const again = await post({ ...TS, idempotencyKey: 'hdr-1' });
  assert.equal(again.status, 200);
  assert.equal(again.json.id, a.json.id);
  const other = await post({ type: 'turnstile', params: { ...VALID_PARAMS.turnstile, action: 'other' }, idempotencyKey: 'hdr-1' });
  assert.equal(other.status, 409);
  assert.equal(other.json.error?.code, 'IDEMPOTENCY_KEY_REUSED');
  const mismatch = await post({ ...TS, idempotencyKey: 'a' }, { 'idempotency-key': 'b' });
  assert.equal(mismatch.status, 400);
  assert.equal(mismatch.json.error?.field, 'idempotencyKey');
  const bad = await post({ ...TS, idempotencyKey: 'has space' });
  assert.equal(bad.json.error?.field, 'idempotencyKey');
});

test('callbackUrl: http(s) only, no credentials, private hosts refused unless allowed', async () => {
  for (const url of ['ftp://x.example/', 'not a url', 'https://u:p@x.example/']) {
    const r = await post({ ...TS, callbackUrl: url });
    assert.equal(r.status, 400, url);
    assert.equal(r.json.error?.field, 'callbackUrl');
  }
  const strict = await startHarness({ server: h.server, app: { allowPrivateCallbacks: false } });
  try {
    for (const url of ['http://127.0.0.1/x', 'http://localhost:9/x', 'http://10.1.2.3/', 'http://[::1]/', 'http://192.168.0.1/']) {
      const r = await strict.app.inject({ method: 'POST', url: '/v1/tasks', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ ...TS, callbackUrl: url }) });
      assert.equal(r.statusCode, 400, url);
      assert.equal(r.json().error.field, 'callbackUrl');
    }
    const ok = await strict.app.inject({ method: 'POST', url: '/v1/tasks', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ ...TS, callbackUrl: 'https://hooks.example.com/cb' }) });
    assert.equal(ok.statusCode, 202);
  } finally {
    await strict.close();
  }
  const noSecret = await startHarness({ server: h.server, tenantDefaults: { webhookSecret: undefined } });
  try {
    const r = await noSecret.app.inject({ method: 'POST', url: '/v1/tasks', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ ...TS, callbackUrl: 'https://hooks.example.com/cb' }) });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().error.message, /WEBHOOK_SECRET/);
  } finally {
    await noSecret.close();
  }
});

test('events: the lifecycle of a task, oldest first', async () => {
  const { json } = await post(TS);
  await completeTask(h, json.id, { provider: 'sim', providerTaskId: '1' });
  const res = await h.app.inject({ method: 'GET', url: `/v1/tasks/${json.id}/events` });
  assert.equal(res.statusCode, 200);
  const body = res.json() as { id: string; truncated: boolean; events: { event: string; at: string; data: Record<string, string> }[] };
  assert.equal(body.truncated, false);
  assert.deepEqual(body.events.map((e) => e.event), ['submitted', 'claimed', 'solved']);
  assert.ok(body.events.every((e) => !Number.isNaN(Date.parse(e.at))));
  assert.equal(body.events[1]?.data.consumer, 'w-test');
  assert.equal((await h.app.inject({ method: 'GET', url: '/v1/tasks/nope/events' })).statusCode, 404);
});

test('cancel: a queued task becomes cancelled (and a long-poll wakes); cancelling again or a finished task is 409', async () => {
  const { json } = await post(TS);
  const poll = h.app.inject({ method: 'GET', url: `/v1/tasks/${json.id}?wait=10` });
  await new Promise((r) => setTimeout(r, 100));
  const c = await h.app.inject({ method: 'POST', url: `/v1/tasks/${json.id}/cancel` });
  assert.equal(c.statusCode, 200);
  assert.equal(c.json().status, 'cancelled');
  assert.equal(c.json().error.code, 'CANCELLED');
  const woken = await poll;
  assert.equal(woken.json().status, 'cancelled', 'the long-poll answered with the cancelled task');
  const again = await h.app.inject({ method: 'POST', url: `/v1/tasks/${json.id}/cancel` });
  assert.equal(again.statusCode, 409);
  assert.equal(again.json().error.code, 'TASK_NOT_CANCELLABLE');
  const events = (await h.app.inject({ method: 'GET', url: `/v1/tasks/${json.id}/events` })).json() as { events: { event: string }[] };
  assert.deepEqual(events.events.map((e) => e.event), ['submitted', 'cancelled']);
  assert.equal((await h.app.inject({ method: 'POST', url: '/v1/tasks/unknown-id/cancel' })).statusCode, 404);
  // The cancel deleted the lane entry: no worker can pick it up later (even after the projection's TTL).
  await assert.rejects(completeTask(h, json.id), /not found in any lane/);
});

test('stats: queue depth per priority, in flight, delayed, dead letter, outcomes and the tenant counters', async () => {
  const before = (await h.app.inject({ method: 'GET', url: '/v1/stats' })).json() as { outcomes: { solved: number } };
  await post({ ...TS, priority: 'low' });
  const { json } = await post({ ...TS, priority: 'critical' });
  await completeTask(h, json.id);
  await new Promise((r) => setTimeout(r, 500)); // the dispatcher counts the outcome
  const res = await h.app.inject({ method: 'GET', url: '/v1/stats' });
  assert.equal(res.statusCode, 200);
  const s = res.json() as {
    mode: { mode: string }; queue: Record<string, { queued: number; inFlight: number }>; delayed: number; deadLetter: number;
    outcomes: Record<string, number>; tenant: { id: string; open: number; solved: number };
  };
  assert.equal(s.mode.mode, 'normal');
  assert.deepEqual(Object.keys(s.queue), ['critical', 'high', 'normal', 'low']);
  assert.ok(s.queue.low!.queued + s.queue.low!.inFlight >= 1, 'the test worker read every lane, so entries count as in flight');
  assert.equal(s.delayed, 0);
  assert.equal(s.deadLetter, 0);
  assert.ok(s.outcomes.solved! >= before.outcomes.solved + 1);
  assert.equal(s.tenant.id, 'default');
  assert.ok(s.tenant.solved >= 1);
  assert.ok(s.tenant.open >= 1);
});

test('/docs serves the OpenAPI document (JSON and YAML) listing REST and gateway paths', async () => {
  const res = await h.app.inject({ method: 'GET', url: '/docs' });
  assert.equal(res.statusCode, 200);
  const doc = res.json() as { openapi: string; paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } };
  assert.equal(doc.openapi, '3.0.3');
  for (const p of ['/v1/tasks', '/v1/tasks/{id}', '/v1/tasks/{id}/events', '/v1/tasks/{id}/cancel', '/v1/stats', '/v1/results/stream', '/in.php', '/res.php', '/createTask', '/getTaskResult']) {
    assert.ok(doc.paths[p], p);
  }
  assert.ok(doc.components.schemas.Params_turnstile, 'task params come from the validator schemas');
  const yaml = await h.app.inject({ method: 'GET', url: '/docs/yaml' });
  assert.match(yaml.body, /^openapi: 3\.0\.3/m);
});
