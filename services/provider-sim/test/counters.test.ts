/**
 * What a test can learn about a client from the provider: per-key counters, task
 * records, and duplicate submits of the same CAPTCHA (the "paid twice" check).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Duplicate, KeyCounters, TaskView } from '../src/index';
import { admin, api, fakeClock, getQ, image, newKey, postJson, startSim, submitV2, type TestSim } from './helpers';

const LATENCY = { minMs: 1000, maxMs: 1000 };

describe('counters and task records', () => {
  const clock = fakeClock();
  let t: TestSim;
  before(async () => (t = await startSim({ now: clock.now, latency: { recaptcha_v2: LATENCY, turnstile: LATENCY, image: LATENCY } })));
  after(() => t.close());

  it('counts submits, accepted submits, polls, polled ids, multi-gets, balance checks, charges, reports and errors per key', async () => {
    const key = newKey();
    const a = await submitV2(t.url, key);
    const b = await submitV2(t.url, key);
    await getQ(t.url, '/in.php', { key, method: 'userrecaptcha', pageurl: 'u' }); // refused: no googlekey
    const { taskId } = await api<{ taskId: number }>(t.url, 'createTask', { clientKey: key, task: { type: 'TurnstileTaskProxyless', websiteURL: 'u', websiteKey: 'k' } });
    await getQ(t.url, '/res.php', { key, action: 'get', id: a });
    await getQ(t.url, '/res.php', { key, action: 'get', ids: `${a},${b}` });
    clock.advance(1000);
    await getQ(t.url, '/res.php', { key, action: 'get', ids: `${a},${b},${a}` });
    await getQ(t.url, '/res.php', { key, action: 'get2', id: b });
    await api(t.url, 'getTaskResult', { clientKey: key, taskId });
    await getQ(t.url, '/res.php', { key, action: 'getbalance' });
    await api(t.url, 'getBalance', { clientKey: key });
    await getQ(t.url, '/res.php', { key, action: 'reportgood', id: a });
    await getQ(t.url, '/res.php', { key, action: 'reportbad', id: b });
    await getQ(t.url, '/res.php', { key, action: 'reportbad', id: b }); // duplicate

    const c = await admin<KeyCounters>(t.url, `/admin/stats/${key}`);
    assert.deepEqual(c, {
      submits: 4,
      acceptedSubmits: 3,
      polls: 5,
      polledIds: 8,
      multiGets: 2,
      balanceChecks: 2,
      charges: 3,
      chargedAmount: 0.00743,
      reportsGood: 1,
      reportsBad: 1,
      errors: { ERROR_WRONG_GOOGLEKEY: 1, ERROR_DUPLICATE_REPORT: 1 },
    });
    const all = await admin<{ keys: Record<string, KeyCounters>; total: KeyCounters }>(t.url, '/admin/stats');
    assert.deepEqual(all.keys[key], c);
    assert.ok(all.total.submits >= 4);
  });

  it('unknown keys read as zero counters; requests without a key count under (none)', async () => {
    const c = await admin<KeyCounters>(t.url, `/admin/stats/${newKey()}`);
    assert.equal(c.submits, 0);
    await getQ(t.url, '/in.php', { method: 'turnstile' });
    const none = await admin<KeyCounters>(t.url, `/admin/stats/${encodeURIComponent('(none)')}`);
    assert.equal(none.errors.ERROR_WRONG_USER_KEY, 1);
  });

  it('GET /admin/tasks[/:id] shows params (without the key), state, times, polls and charge', async () => {
    const key = newKey();
    const marker = `https://shop.example/${newKey()}`;
    const id = await submitV2(t.url, key, { pageurl: marker });
    await getQ(t.url, '/res.php', { key, action: 'get', id });
    let view = await admin<TaskView>(t.url, `/admin/tasks/${id}`);
    assert.equal(view.state, 'solving');
    assert.equal(view.params.pageurl, marker);
    assert.equal(view.params.key, undefined, 'the key is not echoed in params');
    assert.deepEqual([view.polls, view.charged, view.cost, view.answer], [1, false, 0, null]);
    clock.advance(1000);
    view = await admin<TaskView>(t.url, `/admin/tasks/${id}`);
    assert.deepEqual([view.state, view.charged, view.cost], ['solved', true, 0.00299]);
    assert.equal(view.finishedAt, view.submittedAt + 1000);
    assert.match(view.answer!, /^03A/);
    const list = await admin<{ count: number; tasks: TaskView[] }>(t.url, `/admin/tasks?q=${encodeURIComponent(marker)}`);
    assert.deepEqual(list.tasks.map((x) => String(x.id)), [id]);
    const byKey = await admin<{ count: number }>(t.url, `/admin/tasks?key=${key}&state=solved`);
    assert.equal(byKey.count, 1);
    assert.equal((await fetch(`${t.url}/admin/tasks/123`)).status, 404);
  });

  it('image bodies are summarised in task params', async () => {
    const key = newKey();
    const r = await postJson(t.url, '/in.php', { key, method: 'base64', body: image(3000).toString('base64'), json: 1 });
    const view = await admin<TaskView>(t.url, `/admin/tasks/${JSON.parse(r.text).request}`);
    assert.equal(view.params.body, '<base64, 4000 chars>');
  });

  it('GET /admin/duplicates finds the same CAPTCHA submitted twice, across protocols and keys, and how often it was charged', async () => {
    const marker = newKey();
    const pageurl = `https://dup.example/${marker}`;
    const k1 = newKey();
    const k2 = newKey();
    const first = await submitV2(t.url, k1, { pageurl, googlekey: 'dup-site' });
    clock.advance(1000);
    await api(t.url, 'createTask', { clientKey: k2, task: { type: 'RecaptchaV2TaskProxyless', websiteURL: pageurl, websiteKey: 'dup-site' } });
    await submitV2(t.url, k1, { pageurl: `${pageurl}/other`, googlekey: 'dup-site' }); // different CAPTCHA
    const d = await admin<{ count: number; duplicates: Duplicate[] }>(t.url, `/admin/duplicates?q=${marker}`);
    assert.equal(d.count, 1);
    const dup = d.duplicates[0]!;
    assert.equal(dup.submits, 2);
    assert.equal(dup.charged, 1, 'only the first is solved so far');
    assert.equal(String(dup.taskIds[0]), first);
    assert.deepEqual(new Set(dup.keys), new Set([k1, k2]));
    assert.equal((await admin<{ count: number }>(t.url, `/admin/duplicates?q=${marker}&charged=true`)).count, 0);
    clock.advance(1000);
    const paidTwice = await admin<{ count: number; duplicates: Duplicate[] }>(t.url, `/admin/duplicates?q=${marker}&charged=true`);
    assert.equal(paidTwice.count, 1);
    assert.equal(paidTwice.duplicates[0]!.charged, 2);
  });
});
