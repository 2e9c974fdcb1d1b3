/**
 * Admission control through the HTTP layer, against a real Redis: degradation modes,
 * back-pressure on queue depth, a tenant's open-task cap and submit rate — 429 with
 * Retry-After on REST, ERROR_NO_SLOT_AVAILABLE / MAX_USER_TURN on the gateway — and a
 * finished task freeing its tenant's slot.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeMode, type Mode } from '@solvestream/contracts';
import { waitFor } from '@solvestream/testkit';
import { hashKey, parseStaticTenants } from '../src/tenants';
import { completeTask, startHarness, VALID_PARAMS, type Harness } from './harness';

const CAPPED = 'cccccccccccccccccccccccccccccc01';
const LIMITED = 'cccccccccccccccccccccccccccccc02';
const SINGLE = 'cccccccccccccccccccccccccccccc03';

let h: Harness;
before(async () => {
  const doc = JSON.stringify({
    tenants: [
      { id: 'capped', keys: [hashKey(CAPPED)], maxOpen: 2 },
      { id: 'limited', keys: [hashKey(LIMITED)], ratePerSecond: 1, burst: 2 },
      { id: 'single', keys: [hashKey(SINGLE)], maxOpen: 1 },
    ],
  });
  h = await startHarness({ staticTenants: parseStaticTenants(doc, 'TENANTS_JSON'), dispatcher: true, app: { maxQueueDepth: 50 } });
});
after(async () => {
  await h.close();
});
beforeEach(async () => {
  await setMode('normal');
});

const setMode = (mode: Mode) => writeMode(h.worker, h.keys, { mode, since: Date.now(), reason: 'test', by: 'test' });

async function post(key: string, priority?: string) {
  const res = await h.app.inject({
    method: 'POST', url: '/v1/tasks', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    payload: JSON.stringify({ type: 'turnstile', params: VALID_PARAMS.turnstile, ...(priority ? { priority } : {}) }),
  });
  return { status: res.statusCode, json: res.json() as { id: string; error?: { code: string; message: string } }, retryAfter: res.headers['retry-after'] };
}
const gw = async (key: string, extra = '') => (await h.app.inject({ method: 'GET', url: `/in.php?key=${key}&method=userrecaptcha&googlekey=k&pageurl=https://e.com${extra}` })).body;

test('degraded mode takes high and critical only; emergency only critical; normal everything', async () => {
  await setMode('degraded');
  const refused = await post(LIMITED, 'normal');
  assert.equal(refused.status, 429);
  assert.equal(refused.json.error?.code, 'MODE_RESTRICTED');
  assert.ok(Number(refused.retryAfter) > 0, 'Retry-After');
  assert.equal(await gw(CAPPED), 'ERROR_NO_SLOT_AVAILABLE', 'the gateway answers with the capacity code');
  await h.worker.del(h.keys.rate('limited'));
  assert.equal((await post(LIMITED, 'high')).status, 202);
  await setMode('emergency');
  await h.worker.del(h.keys.rate('limited'));
  assert.equal((await post(LIMITED, 'high')).json.error?.code, 'MODE_RESTRICTED');
  assert.equal((await post(LIMITED, 'critical')).status, 202);
  assert.match(await gw(CAPPED, '&priority=critical'), /^OK\|/);
  await setMode('normal');
});

test("a tenant's open-task cap: 429 TENANT_QUEUE_FULL / ERROR_NO_SLOT_AVAILABLE until a task finishes", async () => {
  await h.worker.del(h.keys.openTasks('capped')); // the mode test left one open
  const a = await post(CAPPED);
  const b = await post(CAPPED);
  assert.equal(a.status, 202);
  assert.equal(b.status, 202);
  const full = await post(CAPPED);
  assert.equal(full.status, 429);
  assert.equal(full.json.error?.code, 'TENANT_QUEUE_FULL');
  assert.equal(await gw(CAPPED), 'ERROR_NO_SLOT_AVAILABLE');
  assert.equal((await h.app.inject({ method: 'GET', url: `/res.php?key=${CAPPED}&action=getbalance` })).body, '0');
  await completeTask(h, a.json.id);
  await waitFor('the dispatcher releases the slot', async () => (await h.worker.zscore(h.keys.openTasks('capped'), a.json.id)) === null);
  assert.equal((await post(CAPPED)).status, 202);
});

test('a client at its cap that submits again as soon as it reads the result, or cancels, is never refused: the ending step frees the slot', async () => {
  // The results dispatcher releases slots too, but up to its linger (50 ms) later: a
  // closed-loop client would be refused about every other time if only it did.
  for (let i = 0; i < 20; i++) {
    const next = await post(SINGLE);
    assert.equal(next.status, 202, `submit ${i + 1}: ${JSON.stringify(next.json)}`);
    await completeTask(h, next.json.id);
    const read = await h.app.inject({ method: 'GET', url: `/v1/tasks/${next.json.id}?wait=5`, headers: { authorization: `Bearer ${SINGLE}` } });
    assert.equal(read.json().status, 'solved');
  }
  // The same for a client that cancels and submits again at once.
  for (let i = 0; i < 20; i++) {
    const next = await post(SINGLE);
    assert.equal(next.status, 202, `submit after cancel ${i + 1}: ${JSON.stringify(next.json)}`);
    const cancel = await h.app.inject({ method: 'POST', url: `/v1/tasks/${next.json.id}/cancel`, headers: { authorization: `Bearer ${SINGLE}` } });
    assert.equal(cancel.statusCode, 200, cancel.body);
  }
});

test('a tenant rate: a burst of 2 then 1/s, 429 RATE_LIMITED with Retry-After; MAX_USER_TURN on the gateway', async () => {
  await h.worker.del(h.keys.rate('limited'));
  assert.equal((await post(LIMITED)).status, 202);
  assert.equal((await post(LIMITED)).status, 202);
  const limited = await post(LIMITED);
  assert.equal(limited.status, 429);
  assert.equal(limited.json.error?.code, 'RATE_LIMITED');
  assert.equal(limited.retryAfter, '1');
  assert.equal(await gw(LIMITED), 'MAX_USER_TURN');
  const json = await h.app.inject({ method: 'POST', url: '/createTask', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ clientKey: LIMITED, task: { type: 'TurnstileTaskProxyless', websiteURL: 'https://e.com', websiteKey: 'k' } }) });
  assert.equal(json.json().errorCode, 'ERROR_NO_SLOT_AVAILABLE');
  await new Promise((r) => setTimeout(r, 1_100));
  assert.equal((await post(LIMITED)).status, 202, 'a token came back');
});

test('back-pressure: over MAX_QUEUE_DEPTH every submit is refused with 429 QUEUE_FULL, whoever sends it', async () => {
  const lane = h.keys.lane('low');
  const pipe = h.worker.pipeline();
  for (let i = 0; i < 60; i++) pipe.xadd(lane, '*', 'filler', String(i));
  await pipe.exec();
  try {
    const r = await post(CAPPED, 'critical');
    assert.equal(r.status, 429);
    assert.equal(r.json.error?.code, 'QUEUE_FULL');
    assert.equal(r.retryAfter, '5');
    const j = await h.app.inject({ method: 'GET', url: `/in.php?json=1&key=${LIMITED}&method=userrecaptcha&googlekey=k&pageurl=https://e.com` });
    assert.equal(j.statusCode, 200);
    assert.equal(j.json().request, 'ERROR_NO_SLOT_AVAILABLE');
    assert.ok(j.json().error_text.length > 0);
  } finally {
    const filler = ((await h.worker.xrange(lane, '-', '+')) as [string, string[]][]).filter(([, f]) => f[0] === 'filler').map(([id]) => id);
    if (filler.length) await h.worker.xdel(lane, ...filler);
  }
});
