/**
 * The v1 gateway (/in.php, /res.php) through inject, against a real Redis: every input
 * encoding the npm clients use, plain and JSON answers, the protocol's error codes as
 * HTTP 200, numeric ids, multi-id polling, get2, getbalance, reports, and the deadline
 * that ends every task.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeReportEntry, decodeTaskEntry, IMAGE_MAX_BYTES } from '@solvestream/contracts';
import { completeTask, imageOfBytes, startHarness, type Harness } from './harness';

let h: Harness;
before(async () => {
  h = await startHarness({ app: { gatewayMaxIds: 5 } });
});
after(async () => {
  await h.close();
});

const KEY = '0123456789abcdef0123456789abcdef';
const RC = { method: 'userrecaptcha', googlekey: '6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-', pageurl: 'https://example.com/login' };
const qs = (o: Record<string, string | number>) => new URLSearchParams(Object.entries(o).map(([k, v]): [string, string] => [k, String(v)])).toString();

async function get(path: string, params: Record<string, string | number>) {
  const res = await h.app.inject({ method: 'GET', url: `${path}?${qs(params)}` });
  return { status: res.statusCode, body: res.body, headers: res.headers };
}
async function getJson(path: string, params: Record<string, string | number>) {
  const r = await get(path, { ...params, json: 1 });
  return { ...r, json: JSON.parse(r.body) as { status: number; request: string; error_text?: string; [k: string]: unknown } };
}
async function submitOk(params: Record<string, string | number>): Promise<string> {
  const r = await getJson('/in.php', { key: KEY, ...params });
  assert.equal(r.status, 200);
  assert.equal(r.json.status, 1, r.body);
  return r.json.request;
}
async function laneEntry(id: string) {
  for (const lane of h.keys.lanes) {
    const raw = (await h.worker.xrange(lane, '-', '+')) as [string, string[]][];
    for (const [, f] of raw) {
      const d = decodeTaskEntry(f);
      if (d.ok && d.value.taskId === id) return d.value;
    }
  }
  return undefined;
}

function multipart(fields: Record<string, string>, file?: Buffer): { payload: Buffer; headers: Record<string, string> } {
  const boundary = '----ssgatewaytest';
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields)) parts.push(Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  if (file) {
    parts.push(Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="c.png"\r\ncontent-type: image/png\r\n\r\n`), file, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(parts), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

test('in.php over GET: plain OK|<id> and JSON {status:1}; ids are all digits below 2^53 and map onto the task', async () => {
  const plain = await get('/in.php', { key: KEY, ...RC });
  assert.equal(plain.status, 200);
  assert.match(plain.body, /^OK\|\d+$/);
  const id = plain.body.slice(3);
  assert.ok(Number.isSafeInteger(Number(id)));
  const e = await laneEntry(id);
  assert.equal(e?.type, 'recaptcha_v2');
  assert.deepEqual(e?.params, { websiteURL: RC.pageurl, websiteKey: RC.googlekey });
  assert.equal(e?.priority, 'normal');

  const id2 = await submitOk({ ...RC, invisible: 'false', soft_id: 3316, header_acao: 1 });
  assert.ok(BigInt(id2) > BigInt(id));
  assert.deepEqual((await laneEntry(id2))?.params, { websiteURL: RC.pageurl, websiteKey: RC.googlekey }, 'invisible=false is off; soft_id ignored');
});

test('in.php maps every method: v3, hCaptcha, Turnstile, base64 image, with options and a proxy', async () => {
  const v3 = await submitOk({ ...RC, version: 'v3', action: 'login', min_score: '0.3', enterprise: 1 });
  assert.deepEqual((await laneEntry(v3))?.params, { websiteURL: RC.pageurl, websiteKey: RC.googlekey, pageAction: 'login', minScore: 0.3, isEnterprise: true });
  const hc = await submitOk({ method: 'hcaptcha', sitekey: '10000000-ffff-ffff-ffff-000000000001', pageurl: 'https://example.com/', proxy: 'user:pw@10.0.0.1:3128', proxytype: 'SOCKS5' });
  assert.deepEqual((await laneEntry(hc))?.params, {
    websiteURL: 'https://example.com/', websiteKey: '10000000-ffff-ffff-ffff-000000000001',
    proxy: { type: 'socks5', address: '10.0.0.1', port: 3128, login: 'user', password: 'pw' },
  });
  const ts = await submitOk({ method: 'turnstile', sitekey: '0x4AAAAAAABS7vwvV6VFfMcD', pageurl: 'https://example.com/', action: 'login', data: 'cdata' });
  assert.equal((await laneEntry(ts))?.type, 'turnstile');
  assert.deepEqual((await laneEntry(ts))?.params, { websiteURL: 'https://example.com/', websiteKey: '0x4AAAAAAABS7vwvV6VFfMcD', action: 'login', cData: 'cdata' });
  const img = await submitOk({ method: 'base64', body: imageOfBytes(500), numeric: 1, min_len: 4, regsense: 1, textinstructions: 'digits' });
  assert.deepEqual((await laneEntry(img))?.params, { body: imageOfBytes(500), numeric: 1, minLength: 4, case: true, comment: 'digits' });
  const hi = await submitOk({ ...RC, priority: 'critical' });
  assert.equal((await laneEntry(hi))?.priority, 'critical', 'the non-standard priority param picks the lane');
});

test('in.php accepts every body encoding the clients send: form, multipart file, JSON, JSON as text/plain + query', async () => {
  const form = await h.app.inject({ method: 'POST', url: '/in.php', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: qs({ key: KEY, ...RC }) });
  assert.match(form.body, /^OK\|\d+$/, form.body);

  const mp = multipart({ key: KEY, method: 'post', json: '1' }, Buffer.alloc(300, 0x42));
  const m = await h.app.inject({ method: 'POST', url: '/in.php', ...mp });
  const mid = (JSON.parse(m.body) as { request: string }).request;
  assert.deepEqual((await laneEntry(mid))?.params, { body: Buffer.alloc(300, 0x42).toString('base64') });

  const j = await h.app.inject({ method: 'POST', url: '/in.php', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ key: KEY, json: 1, header_acao: 1, soft_id: 4587, method: 'base64', body: imageOfBytes(300) }) });
  assert.equal((JSON.parse(j.body) as { status: number }).status, 1, j.body);
  assert.equal(j.headers['access-control-allow-origin'], '*');

  const t = await h.app.inject({
    method: 'POST', url: `/in.php?${qs({ key: KEY, method: 'base64', json: 1, soft_id: 3316 })}`,
    headers: { 'content-type': 'text/plain;charset=UTF-8' }, payload: JSON.stringify({ body: imageOfBytes(400) }),
  });
  const tid = (JSON.parse(t.body) as { request: string }).request;
  assert.deepEqual((await laneEntry(tid))?.params, { body: imageOfBytes(400) });
});

test('in.php errors are HTTP 200 protocol codes with error_text in JSON mode', async () => {
  const cases: [Record<string, string | number>, string][] = [
    [{ method: 'userrecaptcha', googlekey: RC.googlekey }, 'ERROR_PAGEURL'],
    [{ method: 'userrecaptcha', googlekey: RC.googlekey, pageurl: 'ftp://x' }, 'ERROR_PAGEURL'],
    [{ method: 'userrecaptcha', pageurl: RC.pageurl }, 'ERROR_WRONG_GOOGLEKEY'],
    [{ method: 'userrecaptcha', pageurl: RC.pageurl, googlekey: 'bad key with spaces' }, 'ERROR_GOOGLEKEY'],
    [{ ...RC, proxy: 'not a proxy' }, 'ERROR_PROXY_FORMAT'],
    [{ method: 'base64' }, 'ERROR_ZERO_CAPTCHA_FILESIZE'],
    [{ method: 'base64', body: imageOfBytes(50) }, 'ERROR_ZERO_CAPTCHA_FILESIZE'],
    [{ method: 'base64', body: 'data:image/png;base64,AAAA' }, 'ERROR_UPLOAD'],
    [{ method: 'base64', body: '%%%not base64%%%' }, 'ERROR_UPLOAD'],
    [{ method: 'geetest', gt: 'x' }, 'ERROR_BAD_PARAMETERS'],
    [{ textcaptcha: 'what is 2+2' }, 'ERROR_BAD_PARAMETERS'],
    [{ ...RC, priority: 'urgent' }, 'ERROR_BAD_PARAMETERS'],
    [{ ...RC, version: 'v3', min_score: 'high' }, 'ERROR_BAD_PARAMETERS'],
  ];
  for (const [params, code] of cases) {
    const r = await getJson('/in.php', { key: KEY, ...params });
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 0, JSON.stringify(params));
    assert.equal(r.json.request, code, `${JSON.stringify(params)} → ${r.body}`);
    assert.ok((r.json.error_text ?? '').length > 0);
    const plain = await get('/in.php', { key: KEY, ...params });
    assert.equal(plain.body, code);
  }
  const post = await h.app.inject({ method: 'POST', url: '/in.php', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ key: KEY, json: 1, method: 'base64', body: imageOfBytes(IMAGE_MAX_BYTES + 10) }) });
  assert.equal(post.statusCode, 200);
  assert.equal((JSON.parse(post.body) as { request: string }).request, 'ERROR_TOO_BIG_CAPTCHA_FILESIZE');
  const huge = await h.app.inject({ method: 'POST', url: '/in.php?json=1', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ key: KEY, method: 'base64', body: imageOfBytes(2 * 1024 * 1024) }) });
  assert.equal(huge.statusCode, 200, 'over the body limit is still a protocol answer');
  assert.equal((JSON.parse(huge.body) as { request: string }).request, 'ERROR_TOO_BIG_CAPTCHA_FILESIZE');
  const badJson = await h.app.inject({ method: 'POST', url: '/in.php?json=1', headers: { 'content-type': 'application/json' }, payload: '{"key": "x",' });
  assert.equal(badJson.statusCode, 200);
  assert.equal((JSON.parse(badJson.body) as { request: string }).request, 'ERROR_BAD_PARAMETERS');
});

test('res.php get: not ready, then the answer (with user agent for Turnstile); get2 adds a price', async () => {
  const id = await submitOk({ method: 'turnstile', sitekey: '0x4AAAAAAABS7vwvV6VFfMcD', pageurl: 'https://example.com/' });
  assert.equal((await get('/res.php', { key: KEY, action: 'get', id })).body, 'CAPCHA_NOT_READY');
  assert.deepEqual((await getJson('/res.php', { key: KEY, action: 'get', id })).json, { status: 0, request: 'CAPCHA_NOT_READY' });
  await completeTask(h, id, { solution: { token: 'tok-ts', userAgent: 'UA/1' } });
  assert.equal((await get('/res.php', { key: KEY, action: 'get', id })).body, 'OK|tok-ts');
  assert.deepEqual((await getJson('/res.php', { key: KEY, action: 'get', id })).json, { status: 1, request: 'tok-ts', useragent: 'UA/1' });
  assert.equal((await get('/res.php', { key: KEY, action: 'get2', id })).body, 'OK|tok-ts|0');
  assert.deepEqual((await getJson('/res.php', { key: KEY, action: 'get2', id })).json, { status: 1, request: 'tok-ts', price: '0', useragent: 'UA/1' });
  const img = await submitOk({ method: 'base64', body: imageOfBytes(300) });
  await completeTask(h, img, { solution: { text: 'x7k2p' } });
  assert.equal((await get('/res.php', { key: KEY, action: 'get', id: img })).body, 'OK|x7k2p');
});

test('res.php multi-get: answers in id order joined by |, status 1 even when nothing is ready; capped', async () => {
  const a = await submitOk(RC);
  const b = await submitOk(RC);
  const none = await getJson('/res.php', { key: KEY, action: 'get', ids: `${a},${b}` });
  assert.deepEqual(none.json, { status: 1, request: 'CAPCHA_NOT_READY|CAPCHA_NOT_READY' });
  await completeTask(h, b, { solution: { token: 'tok-b' } });
  const failed = await submitOk(RC);
  await completeTask(h, failed, { outcome: 'failed', solution: undefined, errorCode: 'ERROR_SOMETHING_INTERNAL' });
  const mixed = await get('/res.php', { key: KEY, action: 'get', ids: `${a},${b},99999999,${failed},abc` });
  assert.equal(mixed.body, 'CAPCHA_NOT_READY|tok-b|ERROR_WRONG_CAPTCHA_ID|ERROR_CAPTCHA_UNSOLVABLE|ERROR_WRONG_ID_FORMAT');
  const tooMany = await getJson('/res.php', { key: KEY, action: 'get', ids: '1,2,3,4,5,6' });
  assert.equal(tooMany.json.request, 'ERROR_BAD_PARAMETERS');
});

test('res.php errors: empty action, unknown action, id format, unknown id', async () => {
  assert.equal((await get('/res.php', { key: KEY })).body, 'ERROR_EMPTY_ACTION');
  assert.equal((await getJson('/res.php', { key: KEY, action: 'frobnicate' })).json.request, 'ERROR_BAD_PARAMETERS');
  assert.equal((await get('/res.php', { key: KEY, action: 'get', id: '12ab' })).body, 'ERROR_WRONG_ID_FORMAT');
  assert.equal((await get('/res.php', { key: KEY, action: 'get' })).body, 'ERROR_WRONG_ID_FORMAT');
  assert.equal((await get('/res.php', { key: KEY, action: 'get', id: '123456' })).body, 'ERROR_WRONG_CAPTCHA_ID');
  const j = await getJson('/res.php', { key: KEY, action: 'get', id: '123456' });
  assert.equal(j.json.status, 0);
  assert.ok(j.json.error_text);
});

test('getbalance answers the tenant quota (unlimited while open); POST JSON to res.php works too', async () => {
  assert.equal((await get('/res.php', { key: KEY, action: 'getbalance' })).body, '999999');
  const r = await h.app.inject({ method: 'POST', url: '/res.php', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ key: KEY, action: 'getbalance', json: 1 }) });
  assert.deepEqual(JSON.parse(r.body), { status: 1, request: '999999' });
});

test('reportbad / reportgood: recorded once on a solved task and queued for the workers with the provider ids', async () => {
  const id = await submitOk(RC);
  assert.equal((await get('/res.php', { key: KEY, action: 'reportbad', id })).body, 'ERROR_REPORT_NOT_RECORDED');
  await completeTask(h, id, { solution: { token: 't' }, provider: 'sim', providerTaskId: '555' });
  assert.deepEqual((await getJson('/res.php', { key: KEY, action: 'reportbad', id })).json, { status: 1, request: 'OK_REPORT_RECORDED' });
  assert.equal((await get('/res.php', { key: KEY, action: 'reportgood', id })).body, 'ERROR_DUPLICATE_REPORT');
  assert.equal((await get('/res.php', { key: KEY, action: 'reportgood', id: '42' })).body, 'ERROR_WRONG_CAPTCHA_ID');
  const raw = (await h.worker.xrange(h.keys.reports, '-', '+')) as [string, string[]][];
  const d = decodeReportEntry(raw.at(-1)![1]);
  assert.ok(d.ok);
  assert.deepEqual({ ...d.value, at: 0 }, { taskId: id, tenant: 'default', type: 'recaptcha_v2', verdict: 'bad', provider: 'sim', providerTaskId: '555', at: 0 });
});

test('a task past its deadline + grace answers ERROR_CAPTCHA_UNSOLVABLE, so clients that never time out stop', async () => {
  const id = await submitOk(RC);
  await h.worker.hset(h.keys.task(id), 'deadline', String(Date.now() - 60_000)); // as if submitted long ago, no worker alive
  assert.equal((await get('/res.php', { key: KEY, action: 'get', id })).body, 'ERROR_CAPTCHA_UNSOLVABLE');
  assert.equal((await h.app.inject({ method: 'GET', url: `/v1/tasks/${id}` })).json().status, 'failed');
  const again = await h.app.inject({ method: 'GET', url: `/res.php?${qs({ key: KEY, action: 'get', ids: id, json: 1 })}` });
  assert.deepEqual(JSON.parse(again.body), { status: 1, request: 'ERROR_CAPTCHA_UNSOLVABLE' });
});

test('OPTIONS preflight and header_acao on errors', async () => {
  const pre = await h.app.inject({ method: 'OPTIONS', url: '/in.php' });
  assert.equal(pre.statusCode, 204);
  assert.equal(pre.headers['access-control-allow-origin'], '*');
  const err = await get('/res.php', { key: KEY, header_acao: 1 });
  assert.equal(err.headers['access-control-allow-origin'], '*');
});

test('REST stays JSON-only next to the gateway', async () => {
  const r = await h.app.inject({ method: 'POST', url: '/v1/tasks', headers: { 'content-type': 'text/plain' }, payload: '{}' });
  assert.equal(r.statusCode, 415);
});
