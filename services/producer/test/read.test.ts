import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep } from '@solvestream/testkit';
import { completeTask, get as getVia, startHarness, submit, VALID_PARAMS, type Harness } from './harness';

let h: Harness;
before(async () => {
  h = await startHarness({ maxWaitSeconds: 30 });
});
after(async () => {
  await h.close();
});

const get = (url: string) => getVia(h.app, url);

test('GET of a queued task shows it with ISO timestamps and no internals', async () => {
  const { id } = await submit(h.app, { type: 'hcaptcha', params: VALID_PARAMS.hcaptcha, priority: 'high' });
  const r = await get(`/v1/tasks/${id}`);
  assert.equal(r.status, 200);
  assert.equal(r.json.id, id);
  assert.equal(r.json.type, 'hcaptcha');
  assert.equal(r.json.status, 'queued');
  assert.equal(r.json.priority, 'high');
  assert.equal(r.json.attempt, 1);
  assert.match(r.json.createdAt ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(r.json.updatedAt, r.json.createdAt);
  for (const hidden of ['tenant', 'provider', 'providerTaskId', 'consumer', 'completedAt', 'solution', 'error']) {
    assert.ok(!(hidden in r.json), `${hidden} is not shown`);
  }
});

test('unknown or malformed ids are 404 TASK_NOT_FOUND', async () => {
  for (const id of ['doesnotexist123456789', '{p1}x', 'a'.repeat(80), 'x y']) {
    const r = await get(`/v1/tasks/${encodeURIComponent(id)}`);
    assert.equal(r.status, 404, id);
    assert.equal(r.json.error?.code, 'TASK_NOT_FOUND');
  }
  const long = await get(`/v1/tasks/${'a'.repeat(200)}`);
  assert.equal(long.status, 404, 'a path segment longer than any id is not found either');
  assert.equal(long.json.error?.code, 'NOT_FOUND');
  const waited = await get('/v1/tasks/doesnotexist123456789?wait=5');
  assert.equal(waited.status, 404, 'an unknown id does not long-poll');
});

test('?wait must be an integer from 0 to MAX_WAIT_SECONDS: otherwise 400 naming wait', async () => {
  const { id } = await submit(h.app, { type: 'turnstile', params: VALID_PARAMS.turnstile });
  for (const w of ['-1', '1.5', 'abc', '', '31', '99999999', '1e3']) {
    const r = await get(`/v1/tasks/${id}?wait=${w}`);
    assert.equal(r.status, 400, `wait=${w}`);
    assert.equal(r.json.error?.field, 'wait');
  }
  const twice = await get(`/v1/tasks/${id}?wait=1&wait=2`);
  assert.equal(twice.status, 400);
  assert.equal((await get(`/v1/tasks/${id}?wait=0`)).status, 200);
});

test('long-poll returns as soon as a worker completes the task', async () => {
  const { id } = await submit(h.app, { type: 'recaptcha_v2', params: VALID_PARAMS.recaptcha_v2 });
  const started = Date.now();
  const poll = get(`/v1/tasks/${id}?wait=20`);
  await sleep(300);
  await completeTask(h, id);
  const r = await poll;
  const took = Date.now() - started;
  assert.equal(r.status, 200);
  assert.equal(r.json.status, 'solved');
  assert.deepEqual(r.json.solution, { token: `tok-${id}` });
  assert.ok(r.json.completedAt, 'completedAt is set');
  assert.ok(took < 5_000, `answered in ${took} ms, not at the 20 s timeout`);
  assert.equal(h.listener.stats().waiters, 0, 'no waiter left behind');
});

test('a failed task shows error {code, message}', async () => {
  const { id } = await submit(h.app, { type: 'image', params: VALID_PARAMS.image });
  const poll = get(`/v1/tasks/${id}?wait=20`);
  await completeTask(h, id, { outcome: 'failed', solution: undefined, errorCode: 'ERROR_CAPTCHA_UNSOLVABLE', errorMessage: 'workers could not solve it' });
  const r = await poll;
  assert.equal(r.json.status, 'failed');
  assert.deepEqual(r.json.error, { code: 'ERROR_CAPTCHA_UNSOLVABLE', message: 'workers could not solve it' });
  assert.ok(!('solution' in r.json));
});

test('long-poll of an already finished task answers at once', async () => {
  const { id } = await submit(h.app, { type: 'image', params: VALID_PARAMS.image });
  await completeTask(h, id);
  const started = Date.now();
  const r = await get(`/v1/tasks/${id}?wait=20`);
  assert.equal(r.json.status, 'solved');
  assert.deepEqual(r.json.solution, { text: 'x7k2p' });
  assert.ok(Date.now() - started < 1_000);
});

test('long-poll times out with the current state (queued), 200', async () => {
  const { id } = await submit(h.app, { type: 'turnstile', params: VALID_PARAMS.turnstile });
  const started = Date.now();
  const r = await get(`/v1/tasks/${id}?wait=1`);
  const took = Date.now() - started;
  assert.equal(r.status, 200);
  assert.equal(r.json.status, 'queued');
  assert.ok(took >= 950 && took < 3_000, `took ${took} ms`);
});

test('many concurrent long-polls each wake for their own task only', async () => {
  const ids = await Promise.all(Array.from({ length: 20 }, async () => (await submit(h.app, { type: 'turnstile', params: VALID_PARAMS.turnstile })).id));
  const polls = ids.map((id) => get(`/v1/tasks/${id}?wait=3`));
  await sleep(200);
  for (const id of ids.slice(0, 10)) await completeTask(h, id);
  const results = await Promise.all(polls);
  assert.deepEqual(results.map((r) => r.json.status), [...Array(10).fill('solved'), ...Array(10).fill('queued')]);
});

test('closing the app releases long-polls with the current state', async () => {
  const h2 = await startHarness();
  try {
    const { id } = await submit(h2.app, { type: 'turnstile', params: VALID_PARAMS.turnstile });
    const started = Date.now();
    const poll = h2.app.inject({ method: 'GET', url: `/v1/tasks/${id}?wait=30` });
    await sleep(200);
    await h2.app.close();
    const res = await poll;
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().status, 'queued');
    assert.ok(Date.now() - started < 3_000, 'released at close, not after 30 s');
  } finally {
    await h2.close();
  }
});
