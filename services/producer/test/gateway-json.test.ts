/**
 * The JSON task API (anti-captcha / 2captcha v2) through inject, against a real Redis:
 * task type mapping, solution shapes per type, errors with anti-captcha's errorIds
 * (always HTTP 200), balance and reports.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeTaskEntry, type TaskEntry } from '@solvestream/contracts';
import { completeTask, imageOfBytes, startHarness, type Harness } from './harness';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

const KEY = '0123456789abcdef0123456789abcdef';
type Reply = { errorId: number; errorCode?: string; errorDescription?: string; taskId?: number; status?: string; solution?: Record<string, string>; balance?: number; [k: string]: unknown };

async function call(method: string, body: unknown, contentType = 'application/json; charset=utf-8'): Promise<Reply> {
  const res = await h.app.inject({ method: 'POST', url: `/${method}`, headers: { 'content-type': contentType, accept: 'application/json' }, payload: typeof body === 'string' ? body : JSON.stringify(body) });
  assert.equal(res.statusCode, 200, `${method} answers HTTP 200: ${res.body}`);
  return res.json() as Reply;
}
async function create(task: Record<string, unknown>): Promise<string> {
  const r = await call('createTask', { clientKey: KEY, task, softId: 0 });
  assert.equal(r.errorId, 0, JSON.stringify(r));
  assert.equal(typeof r.taskId, 'number');
  assert.ok(Number.isSafeInteger(r.taskId) && r.taskId! > 0);
  return String(r.taskId);
}
async function entryOf(id: string): Promise<TaskEntry | undefined> {
  for (const lane of h.keys.lanes) {
    for (const [, f] of (await h.worker.xrange(lane, '-', '+')) as [string, string[]][]) {
      const d = decodeTaskEntry(f);
      if (d.ok && d.value.taskId === id) return d.value;
    }
  }
  return undefined;
}

test('createTask maps every supported type (case-insensitive), including proxy variants; null fields are ignored', async () => {
  const v2 = await create({ type: 'RecaptchaV2TaskProxyless', websiteURL: 'https://e.com', websiteKey: 'k', websiteSToken: null, recaptchaDataSValue: null });
  assert.deepEqual((await entryOf(v2))?.params, { websiteURL: 'https://e.com', websiteKey: 'k' });
  const ent = await create({ type: 'recaptchav2enterprisetask', websiteURL: 'https://e.com', websiteKey: 'k', proxyType: 'http', proxyAddress: '1.2.3.4', proxyPort: 8080, proxyLogin: 'u', proxyPassword: 'p' });
  assert.deepEqual((await entryOf(ent))?.params, { websiteURL: 'https://e.com', websiteKey: 'k', isEnterprise: true, proxy: { type: 'http', address: '1.2.3.4', port: 8080, login: 'u', password: 'p' } });
  const v3 = await create({ type: 'RecaptchaV3TaskProxyless', websiteURL: 'https://e.com', websiteKey: 'k', minScore: 0.3, pageAction: 'login' });
  assert.deepEqual((await entryOf(v3))?.params, { websiteURL: 'https://e.com', websiteKey: 'k', minScore: 0.3, pageAction: 'login' });
  const hc = await create({ type: 'HCaptchaTaskProxyless', websiteURL: 'https://e.com', websiteKey: '10000000-ffff-ffff-ffff-000000000001', isInvisible: true });
  assert.equal((await entryOf(hc))?.type, 'hcaptcha');
  const ts = await create({ type: 'TurnstileTaskProxyless', websiteURL: 'https://e.com', websiteKey: '0x4AAAAAAABS7vwvV6VFfMcD', action: 'a', turnstileCData: 'c' });
  assert.deepEqual((await entryOf(ts))?.params, { websiteURL: 'https://e.com', websiteKey: '0x4AAAAAAABS7vwvV6VFfMcD', action: 'a', cData: 'c' });
  const img = await create({ type: 'ImageToTextTask', body: imageOfBytes(300), phrase: false, case: true, numeric: 1, math: null, minLength: 0, maxLength: 0 });
  assert.deepEqual((await entryOf(img))?.params, { body: imageOfBytes(300), case: true, numeric: 1, minLength: 0, maxLength: 0 });
  const crit = await create({ type: 'ImageToTextTask', body: imageOfBytes(300) }).then(async () => {
    const r = await call('createTask', { clientKey: KEY, priority: 'critical', task: { type: 'ImageToTextTask', body: imageOfBytes(301) } });
    return String(r.taskId);
  });
  assert.equal((await entryOf(crit))?.priority, 'critical');
});

test('getTaskResult: processing, then ready with the solution shape of each type', async () => {
  const rc = await create({ type: 'NoCaptchaTaskProxyless', websiteURL: 'https://e.com', websiteKey: 'k' });
  assert.deepEqual(await call('getTaskResult', { clientKey: KEY, taskId: Number(rc) }), { errorId: 0, status: 'processing' });
  await completeTask(h, rc, { solution: { token: '03A-token' } });
  const ready = await call('getTaskResult', { clientKey: KEY, taskId: Number(rc) });
  assert.equal(ready.status, 'ready');
  assert.deepEqual(ready.solution, { gRecaptchaResponse: '03A-token', token: '03A-token' });
  assert.equal(ready.cost, '0');
  assert.equal(ready.solveCount, 1);
  assert.ok(typeof ready.createTime === 'number' && typeof ready.endTime === 'number');

  const hc = await create({ type: 'HCaptchaTask', websiteURL: 'https://e.com', websiteKey: 'k', proxyAddress: '1.2.3.4', proxyPort: 1 });
  await completeTask(h, hc, { solution: { token: 'P1_x', respKey: 'E0_r', userAgent: 'UA' } });
  assert.deepEqual((await call('getTaskResult', { clientKey: KEY, taskId: hc })).solution, { gRecaptchaResponse: 'P1_x', token: 'P1_x', respKey: 'E0_r', userAgent: 'UA' }, 'a numeric string taskId works too');

  const ts = await create({ type: 'TurnstileTask', websiteURL: 'https://e.com', websiteKey: 'k', proxyType: 'socks5', proxyAddress: 'h', proxyPort: 9 });
  await completeTask(h, ts, { solution: { token: '0.t', userAgent: 'UA' } });
  assert.deepEqual((await call('getTaskResult', { clientKey: KEY, taskId: Number(ts) })).solution, { token: '0.t', userAgent: 'UA' });

  const img = await create({ type: 'ImageToTextTask', body: imageOfBytes(350) });
  await completeTask(h, img, { solution: { text: 'abc12' } });
  assert.deepEqual((await call('getTaskResult', { clientKey: KEY, taskId: Number(img) })).solution, { text: 'abc12' });

  const bad = await create({ type: 'ImageToTextTask', body: imageOfBytes(360) });
  await completeTask(h, bad, { outcome: 'failed', solution: undefined, errorCode: 'ERROR_CAPTCHA_UNSOLVABLE' });
  const failed = await call('getTaskResult', { clientKey: KEY, taskId: Number(bad) });
  assert.equal(failed.errorId, 12);
  assert.equal(failed.errorCode, 'ERROR_CAPTCHA_UNSOLVABLE');
});

test('errors carry anti-captcha errorIds and descriptions, always HTTP 200', async () => {
  const cases: [string, unknown, number, string][] = [
    ['createTask', { clientKey: KEY }, 22, 'ERROR_TASK_ABSENT'],
    ['createTask', { clientKey: KEY, task: { type: 'FunCaptchaTaskProxyless' } }, 23, 'ERROR_TASK_NOT_SUPPORTED'],
    ['createTask', { clientKey: KEY, task: { type: 'RecaptchaV2TaskProxyless', websiteKey: 'k' } }, 5, 'ERROR_PAGEURL'],
    ['createTask', { clientKey: KEY, task: { type: 'RecaptchaV2TaskProxyless', websiteURL: 'https://e.com' } }, 31, 'ERROR_RECAPTCHA_INVALID_SITEKEY'],
    ['createTask', { clientKey: KEY, task: { type: 'RecaptchaV2Task', websiteURL: 'https://e.com', websiteKey: 'k' } }, 110, 'ERROR_BAD_PARAMETERS'],
    ['createTask', { clientKey: KEY, task: { type: 'ImageToTextTask', body: imageOfBytes(10) } }, 3, 'ERROR_ZERO_CAPTCHA_FILESIZE'],
    ['createTask', { clientKey: KEY, task: { type: 'ImageToTextTask', body: imageOfBytes(700 * 1024) } }, 4, 'ERROR_TOO_BIG_CAPTCHA_FILESIZE'],
    ['createTask', { clientKey: KEY, task: { type: 'ImageToTextTask', body: '***' } }, 15, 'ERROR_IMAGE_TYPE_NOT_SUPPORTED'],
    ['createTask', { clientKey: KEY, task: { type: 'RecaptchaV3TaskProxyless', websiteURL: 'https://e.com', websiteKey: 'k', minScore: 'high' } }, 110, 'ERROR_BAD_PARAMETERS'],
    ['createTask', 'not json at all', 110, 'ERROR_BAD_PARAMETERS'],
    ['createTask', '{"clientKey":', 110, 'ERROR_BAD_PARAMETERS'],
    ['getTaskResult', { clientKey: KEY }, 16, 'ERROR_NO_SUCH_CAPCHA_ID'],
    ['getTaskResult', { clientKey: KEY, taskId: 'abc' }, 16, 'ERROR_NO_SUCH_CAPCHA_ID'],
    ['getTaskResult', { clientKey: KEY, taskId: 12345 }, 16, 'ERROR_NO_SUCH_CAPCHA_ID'],
    ['getTaskResult', { clientKey: KEY, taskId: -5 }, 16, 'ERROR_NO_SUCH_CAPCHA_ID'],
    ['reportIncorrectRecaptcha', { clientKey: KEY, taskId: 12345 }, 16, 'ERROR_NO_SUCH_CAPCHA_ID'],
  ];
  for (const [method, body, errorId, code] of cases) {
    const r = await call(method, body);
    assert.equal(r.errorCode, code, `${method} ${JSON.stringify(body).slice(0, 120)} → ${JSON.stringify(r)}`);
    assert.equal(r.errorId, errorId);
    assert.ok((r.errorDescription ?? '').length > 0);
  }
  const huge = await h.app.inject({ method: 'POST', url: '/createTask', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ clientKey: KEY, task: { type: 'ImageToTextTask', body: imageOfBytes(2 * 1024 * 1024) } }) });
  assert.equal(huge.statusCode, 200);
  assert.equal((huge.json() as Reply).errorCode, 'ERROR_TOO_BIG_CAPTCHA_FILESIZE');
});

test('getBalance and the report methods', async () => {
  assert.deepEqual(await call('getBalance', { clientKey: KEY }), { errorId: 0, balance: 999_999 });
  const id = await create({ type: 'RecaptchaV2TaskProxyless', websiteURL: 'https://e.com', websiteKey: 'k' });
  assert.equal((await call('reportCorrectRecaptcha', { clientKey: KEY, taskId: Number(id) })).errorCode, 'ERROR_NO_SUCH_CAPCHA_ID', 'not solved yet');
  await completeTask(h, id, { solution: { token: 't' }, provider: 'sim', providerTaskId: '9' });
  assert.deepEqual(await call('reportIncorrectRecaptcha', { clientKey: KEY, taskId: Number(id) }), { errorId: 0, status: 'success' });
  assert.equal((await call('reportCorrect', { clientKey: KEY, taskId: Number(id) })).errorCode, 'ERROR_DUPLICATE_REPORT');
  for (const m of ['reportIncorrectImageCaptcha', 'reportIncorrectHcaptcha', 'reportIncorrect', 'reportCorrectRecaptcha', 'reportCorrect']) {
    const fresh = await create({ type: 'ImageToTextTask', body: imageOfBytes(400 + m.length) });
    await completeTask(h, fresh, { solution: { text: 'x' } });
    assert.deepEqual(await call(m, { clientKey: KEY, taskId: Number(fresh) }), { errorId: 0, status: 'success' }, m);
  }
});
