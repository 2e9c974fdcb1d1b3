/**
 * The JSON task API: createTask for every task type, getTaskResult shapes,
 * getBalance, the report methods, and the anti-captcha errorId numbering.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, fakeClock, http, image, newKey, startSim, type TestSim } from './helpers';

const LATENCY = { minMs: 2000, maxMs: 2000 };
type Reply = { errorId: number; errorCode?: string; errorDescription?: string; taskId?: number; status?: string; [k: string]: unknown };

describe('JSON API', () => {
  const clock = fakeClock();
  let t: TestSim;
  before(async () => {
    t = await startSim({
      now: clock.now,
      latency: { recaptcha_v2: LATENCY, recaptcha_v3: LATENCY, hcaptcha: LATENCY, turnstile: LATENCY, image: LATENCY },
    });
  });
  after(() => t.close());

  const create = (clientKey: string, task: unknown) => api<Reply>(t.url, 'createTask', { clientKey, task, softId: 0 });
  const result = (clientKey: string, taskId: unknown) => api<Reply>(t.url, 'getTaskResult', { clientKey, taskId });
  const site = { websiteURL: 'https://e.com/login', websiteKey: '6Le-site' };

  const solves: [string, Record<string, unknown>, (s: Record<string, string>) => void][] = [
    ['RecaptchaV2TaskProxyless', site, (s) => assert.match(s.gRecaptchaResponse!, /^03A/)],
    ['NoCaptchaTaskProxyless', { ...site, isInvisible: true }, (s) => assert.match(s.gRecaptchaResponse!, /^03A/)],
    ['RecaptchaV2Task', { ...site, proxyType: 'http', proxyAddress: '1.2.3.4', proxyPort: 3128 }, (s) => assert.match(s.gRecaptchaResponse!, /^03A/)],
    ['RecaptchaV2EnterpriseTaskProxyless', site, (s) => assert.match(s.gRecaptchaResponse!, /^03A/)],
    ['RecaptchaV3TaskProxyless', { ...site, minScore: 0.3, pageAction: 'login' }, (s) => assert.match(s.gRecaptchaResponse!, /^03A/)],
    ['HCaptchaTaskProxyless', site, (s) => {
      assert.match(s.gRecaptchaResponse!, /^P1_/);
      assert.match(s.respKey!, /^E0_/);
      assert.match(s.userAgent!, /^Mozilla/);
    }],
    ['TurnstileTaskProxyless', { ...site, action: 'login' }, (s) => {
      assert.match(s.token!, /^0\./);
      assert.match(s.userAgent!, /^Mozilla/);
    }],
    ['ImageToTextTask', { body: image().toString('base64'), numeric: 1, minLength: 5, maxLength: 5 }, (s) => assert.match(s.text!, /^\d{5}$/)],
  ];
  for (const [type, fields, check] of solves) {
    it(`${type}: processing, then ready with solution, cost, times and solveCount`, async () => {
      const key = newKey();
      const created = await create(key, { type, ...fields });
      assert.equal(created.errorId, 0);
      assert.ok(Number.isSafeInteger(created.taskId) && created.taskId! > 0);
      assert.deepEqual(await result(key, created.taskId), { errorId: 0, status: 'processing' });
      clock.advance(2000);
      const ready = await result(key, String(created.taskId));
      assert.equal(ready.errorId, 0);
      assert.equal(ready.status, 'ready');
      check(ready.solution as Record<string, string>);
      assert.match(String(ready.cost), /^0\.\d+$/);
      assert.equal(ready.ip, '127.0.0.1');
      assert.equal((ready.endTime as number) - (ready.createTime as number), 2);
      assert.equal(ready.solveCount, 1);
    });
  }

  it('getBalance answers a number and drops by the cost of each solve', async () => {
    const key = newKey();
    assert.deepEqual(await api(t.url, 'getBalance', { clientKey: key }), { errorId: 0, balance: 1000 });
    const { taskId } = await create(key, { type: 'TurnstileTaskProxyless', ...site });
    clock.advance(2000);
    await result(key, taskId);
    await result(key, taskId);
    assert.deepEqual(await api(t.url, 'getBalance', { clientKey: key }), { errorId: 0, balance: 999.99855 });
  });

  it('report methods answer success once and refuse duplicates', async () => {
    const key = newKey();
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) ids.push((await create(key, { type: 'RecaptchaV2TaskProxyless', ...site })).taskId!);
    clock.advance(2000);
    const methods = ['reportIncorrectRecaptcha', 'reportCorrectRecaptcha', 'reportIncorrectImageCaptcha', 'reportIncorrectHcaptcha', 'reportCorrect', 'reportIncorrect'];
    for (const [i, m] of methods.entries()) assert.deepEqual(await api(t.url, m, { clientKey: key, taskId: ids[i] }), { errorId: 0, status: 'success' }, m);
    const dup = await api<Reply>(t.url, 'reportIncorrectRecaptcha', { clientKey: key, taskId: ids[0] });
    assert.equal(dup.errorCode, 'ERROR_DUPLICATE_REPORT');
    assert.ok(dup.errorId > 0);
    const stats = t.sim.state.stats.peek(key)!;
    assert.deepEqual([stats.reportsGood, stats.reportsBad], [2, 4]);
  });

  describe('errors use the anti-captcha errorId numbering', () => {
    const key = newKey();
    const cases: [string, () => Promise<Reply>, number, string][] = [
      ['malformed clientKey', () => create('nope', { type: 'RecaptchaV2TaskProxyless', ...site }), 1, 'ERROR_KEY_DOES_NOT_EXIST'],
      ['missing task', () => api(t.url, 'createTask', { clientKey: key }), 22, 'ERROR_TASK_ABSENT'],
      ['unknown task type', () => create(key, { type: 'FooTask' }), 23, 'ERROR_TASK_NOT_SUPPORTED'],
      ['missing websiteURL', () => create(key, { type: 'RecaptchaV2TaskProxyless', websiteKey: 'k' }), 5, 'ERROR_PAGEURL'],
      ['missing websiteKey', () => create(key, { type: 'HCaptchaTaskProxyless', websiteURL: 'u' }), 31, 'ERROR_RECAPTCHA_INVALID_SITEKEY'],
      ['proxy task without proxy', () => create(key, { type: 'RecaptchaV2Task', ...site }), 110, 'ERROR_BAD_PARAMETERS'],
      ['tiny image', () => create(key, { type: 'ImageToTextTask', body: image(50).toString('base64') }), 3, 'ERROR_ZERO_CAPTCHA_FILESIZE'],
      ['huge image', () => create(key, { type: 'ImageToTextTask', body: image(700 * 1024).toString('base64') }), 4, 'ERROR_TOO_BIG_CAPTCHA_FILESIZE'],
      ['bad base64', () => create(key, { type: 'ImageToTextTask', body: '###' }), 15, 'ERROR_IMAGE_TYPE_NOT_SUPPORTED'],
      ['unknown task id', () => result(key, 42), 16, 'ERROR_NO_SUCH_CAPCHA_ID'],
      ['non-numeric task id', () => result(key, 'abc'), 16, 'ERROR_NO_SUCH_CAPCHA_ID'],
    ];
    for (const [what, call, errorId, errorCode] of cases) {
      it(`${what} → ${errorId} ${errorCode}`, async () => {
        const r = await call();
        assert.equal(r.errorId, errorId);
        assert.equal(r.errorCode, errorCode);
        assert.equal(typeof r.errorDescription, 'string');
      });
    }
  });

  it('an unsolvable task → errorId 12 ERROR_CAPTCHA_UNSOLVABLE, not charged', async () => {
    const clock2 = fakeClock();
    const t2 = await startSim({ now: clock2.now, unsolvableRate: 1, latency: { image: LATENCY } });
    try {
      const key = newKey();
      const { taskId } = await api<Reply>(t2.url, 'createTask', { clientKey: key, task: { type: 'ImageToTextTask', body: image().toString('base64') } });
      clock2.advance(2000);
      const r = await api<Reply>(t2.url, 'getTaskResult', { clientKey: key, taskId });
      assert.deepEqual([r.errorId, r.errorCode], [12, 'ERROR_CAPTCHA_UNSOLVABLE']);
      assert.equal((await api<Reply>(t2.url, 'getBalance', { clientKey: key })).balance, 1000);
    } finally {
      await t2.close();
    }
  });

  it('accepts the JSON body with a charset content type, answers HTTP 200 for errors', async () => {
    const a = await http(`${t.url}/getBalance`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', accept: 'application/json' },
      body: '{"clientKey":"short"}',
    });
    assert.equal(a.status, 200);
    assert.equal(JSON.parse(a.text).errorId, 1);
  });
});
