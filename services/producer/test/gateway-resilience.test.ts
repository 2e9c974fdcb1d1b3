/**
 * The gateway during a Redis outage: nothing a client sends becomes a 5xx, submits
 * answer the capacity code every client retries, and polls keep polling (the tasks are
 * safe in Redis), so clients that never time out simply wait until Redis is back.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@solvestream/testkit';
import { completeTask, startHarness, type Harness } from './harness';

let h: Harness;
before(async () => {
  h = await startHarness({ aof: true });
});
after(async () => {
  await h.close();
});

const KEY = '0123456789abcdef0123456789abcdef';
const SUBMIT = `/in.php?key=${KEY}&method=userrecaptcha&googlekey=k&pageurl=https://e.com`;

test('Redis down: in.php and createTask answer ERROR_NO_SLOT_AVAILABLE, polls answer not-ready; all HTTP 200; then it recovers', async () => {
  const id = (await h.app.inject({ method: 'GET', url: SUBMIT })).body.slice(3);
  assert.match(id, /^\d+$/);
  assert.equal((await h.app.inject({ method: 'GET', url: `/res.php?key=${KEY}&action=get&id=${id}` })).body, 'CAPCHA_NOT_READY');

  await h.server.kill();
  await waitFor('api connection down', () => h.redis.status !== 'ready');
  const submit = await h.app.inject({ method: 'GET', url: `${SUBMIT}&json=1` });
  assert.equal(submit.statusCode, 200);
  assert.equal(submit.json().request, 'ERROR_NO_SLOT_AVAILABLE');
  const poll = await h.app.inject({ method: 'GET', url: `/res.php?key=${KEY}&action=get&id=${id}&json=1` });
  assert.equal(poll.statusCode, 200);
  assert.deepEqual(poll.json(), { status: 0, request: 'CAPCHA_NOT_READY' });
  const multi = await h.app.inject({ method: 'GET', url: `/res.php?key=${KEY}&action=get&ids=${id},123&json=1` });
  assert.deepEqual(multi.json(), { status: 1, request: 'CAPCHA_NOT_READY|CAPCHA_NOT_READY' });
  const create = await h.app.inject({ method: 'POST', url: '/createTask', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ clientKey: KEY, task: { type: 'RecaptchaV2TaskProxyless', websiteURL: 'https://e.com', websiteKey: 'k' } }) });
  assert.equal(create.statusCode, 200);
  assert.equal(create.json().errorId, 2);
  const result = await h.app.inject({ method: 'POST', url: '/getTaskResult', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ clientKey: KEY, taskId: Number(id) }) });
  assert.deepEqual(result.json(), { errorId: 0, status: 'processing' });
  const balance = await h.app.inject({ method: 'GET', url: `/res.php?key=${KEY}&action=reportbad&id=${id}` });
  assert.equal(balance.statusCode, 200);
  assert.equal(balance.body, 'ERROR_SERVER_ERROR');
  const bad = await h.app.inject({ method: 'GET', url: `/in.php?key=${KEY}&method=userrecaptcha&googlekey=k` });
  assert.equal(bad.body, 'ERROR_PAGEURL', 'validation still answers without Redis');

  await h.server.restart();
  await waitFor('api connection back', () => h.redis.status === 'ready', { timeoutMs: 15_000 });
  await completeTask(h, id, { solution: { token: 'after-outage' } });
  assert.equal((await h.app.inject({ method: 'GET', url: `/res.php?key=${KEY}&action=get&id=${id}` })).body, 'OK|after-outage', 'the task survived (AOF)');
});
