import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeTaskEntry, readTask, TASK_TYPES, DEFAULT_DEADLINE_SECONDS, IMAGE_MAX_BYTES } from '@solvestream/contracts';
import { imageOfBytes, startHarness, VALID_PARAMS, type Harness } from './harness';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

type ErrorReply = { error: { code: string; message: string; field?: string } };

async function post(payload: unknown, headers: Record<string, string> = {}) {
  const res = await h.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: { 'content-type': 'application/json', ...headers },
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });
  return { status: res.statusCode, json: res.json() as ErrorReply & Record<string, unknown>, headers: res.headers };
}

async function expectField(payload: unknown, field: string, code = 'VALIDATION_FAILED'): Promise<string> {
  const r = await post(payload);
  assert.equal(r.status, 400, `expected 400 for field ${field}, got ${r.status} ${JSON.stringify(r.json)}`);
  assert.equal(r.json.error.code, code);
  assert.equal(r.json.error.field, field, JSON.stringify(r.json));
  assert.ok(r.json.error.message.length > 0);
  return r.json.error.message;
}

test('every task type is accepted: 202, Location, queued in its lane with the right deadline', async () => {
  for (const type of TASK_TYPES) {
    const before = Date.now();
    const r = await post({ type, params: VALID_PARAMS[type] });
    assert.equal(r.status, 202, `${type}: ${JSON.stringify(r.json)}`);
    const id = String(r.json.id);
    assert.match(id, /^[A-Za-z0-9_-]{21}$/);
    assert.equal(r.headers.location, `/v1/tasks/${id}`);
    assert.equal(r.json.status, 'queued');
    assert.equal(r.json.type, type);
    assert.equal(r.json.priority, 'normal');
    assert.ok(Date.parse(String(r.json.createdAt)) >= before - 5);

    const view = await readTask(h.worker, h.keys, id);
    assert.equal(view?.status, 'queued');
    assert.equal(view?.tenant, 'default');
    const lane = (await h.worker.xrange(h.keys.lane('normal'), '-', '+')) as [string, string[]][];
    const entry = lane.map(([, f]) => decodeTaskEntry(f)).find((d) => d.ok && d.value.taskId === id);
    assert.ok(entry?.ok, `${type}: lane entry decodes`);
    assert.equal(entry.value.attempt, 1);
    assert.equal(entry.value.deadline - entry.value.submittedAt, DEFAULT_DEADLINE_SECONDS[type] * 1000);
    assert.deepEqual(entry.value.params, VALID_PARAMS[type]);
  }
});

test('priority picks the lane; default is normal', async () => {
  for (const priority of ['critical', 'high', 'low'] as const) {
    const before = await h.worker.xlen(h.keys.lane(priority));
    const r = await post({ type: 'turnstile', params: VALID_PARAMS.turnstile, priority });
    assert.equal(r.status, 202);
    assert.equal(r.json.priority, priority);
    assert.equal(await h.worker.xlen(h.keys.lane(priority)), before + 1);
  }
});

test('each kind of invalid body is a 400 naming its field', async () => {
  const eventsBefore = await h.worker.xlen(h.keys.events);
  const p = VALID_PARAMS.recaptcha_v2;
  await expectField({ params: p }, 'type');
  assert.match(await expectField({ type: 'funcaptcha', params: p }, 'type'), /unknown task type/);
  await expectField({ type: 7, params: p }, 'type');
  await expectField({ type: 'recaptcha_v2' }, 'params');
  await expectField({ type: 'recaptcha_v2', params: 'x' }, 'params');
  await expectField({ type: 'recaptcha_v2', params: { websiteKey: p.websiteKey } }, 'params.websiteURL');
  await expectField({ type: 'recaptcha_v2', params: { ...p, websiteURL: 'ftp://example.com' } }, 'params.websiteURL');
  await expectField({ type: 'recaptcha_v2', params: { websiteURL: p.websiteURL } }, 'params.websiteKey');
  await expectField({ type: 'recaptcha_v2', params: { ...p, websiteUrl: 'https://typo.example' } }, 'params.websiteUrl');
  await expectField({ type: 'recaptcha_v3', params: { ...VALID_PARAMS.recaptcha_v3, minScore: 2 } }, 'params.minScore');
  await expectField({ type: 'hcaptcha', params: { ...VALID_PARAMS.hcaptcha, proxy: { type: 'http', address: 'p', port: 0 } } }, 'params.proxy.port');
  await expectField({ type: 'turnstile', params: VALID_PARAMS.turnstile, priority: 'urgent' }, 'priority');
  await expectField({ type: 'turnstile', params: VALID_PARAMS.turnstile, priority: 1 }, 'priority');
  await expectField({ type: 'turnstile', params: VALID_PARAMS.turnstile, prioirty: 'high' }, 'prioirty');
  await expectField([1, 2], 'body');
  await expectField('"just a string"', 'body');
  await expectField('null', 'body');
  assert.equal(await h.worker.xlen(h.keys.events), eventsBefore, 'a refused request writes nothing');
});

test('image: bad base64, data: prefix and too small are 400 params.body', async () => {
  assert.match(await expectField({ type: 'image', params: { body: 'not base64 at all!' } }, 'params.body'), /base64/);
  await expectField({ type: 'image', params: { body: `data:image/png;base64,${imageOfBytes(500)}` } }, 'params.body');
  await expectField({ type: 'image', params: { body: imageOfBytes(10) } }, 'params.body');
});

test('oversized image: within the body limit → 400 params.body; past it → 413 naming body', async () => {
  // 700 kB of image is ~933 kB of base64: under the 1 MiB body limit, over the 600 kB image limit.
  const big = imageOfBytes(IMAGE_MAX_BYTES + 100 * 1024);
  await expectField({ type: 'image', params: { body: big } }, 'params.body');
  // 900 kB of image is 1.2 MB of base64: refused by the body limit before parsing.
  const huge = await post({ type: 'image', params: { body: imageOfBytes(900 * 1024) } });
  assert.equal(huge.status, 413);
  assert.equal(huge.json.error.code, 'PAYLOAD_TOO_LARGE');
  assert.equal(huge.json.error.field, 'body');
  // The largest allowed image still fits in the default body limit.
  const max = await post({ type: 'image', params: { body: imageOfBytes(IMAGE_MAX_BYTES) } });
  assert.equal(max.status, 202, JSON.stringify(max.json));
});

test('malformed JSON is 400 BAD_JSON naming body; empty JSON body too', async () => {
  for (const payload of ['{"type": "image", ', '{type: image}', '']) {
    const r = await post(payload);
    assert.equal(r.status, 400, payload);
    assert.equal(r.json.error.code, 'BAD_JSON');
    assert.equal(r.json.error.field, 'body');
  }
  const poisoned = await post('{"type":"image","__proto__":{"x":1}}');
  assert.equal(poisoned.status, 400);
  assert.equal(poisoned.json.error.code, 'BAD_JSON');
});

test('non-JSON content types are 415', async () => {
  for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
    const r = await post('type=image', { 'content-type': ct });
    assert.equal(r.status, 415, ct);
    assert.equal(r.json.error.code, 'UNSUPPORTED_MEDIA_TYPE');
  }
  const charset = await post({ type: 'turnstile', params: VALID_PARAMS.turnstile }, { 'content-type': 'application/json; charset=utf-8' });
  assert.equal(charset.status, 202);
});

test('a body without a content type is 415', async () => {
  const res = await h.app.inject({ method: 'POST', url: '/v1/tasks', payload: Buffer.from('{"type":"image"}') });
  assert.equal(res.statusCode, 415, JSON.stringify(res.json()));
});

test('a POST without a body names body', async () => {
  const res = await h.app.inject({ method: 'POST', url: '/v1/tasks' });
  assert.equal(res.statusCode, 400);
  assert.equal(res.json().error.field, 'body');
});

test('unknown routes and methods are 404 in the error shape', async () => {
  for (const [method, url] of [['GET', '/v2/tasks'], ['GET', '/'], ['DELETE', '/v1/tasks'], ['PUT', '/v1/tasks/abc']] as const) {
    const res = await h.app.inject({ method, url });
    assert.equal(res.statusCode, 404, `${method} ${url}`);
    assert.equal(res.json().error.code, 'NOT_FOUND');
  }
  const bad = await h.app.inject({ method: 'GET', url: '/v1/tasks/%E0%A4%A' });
  assert.ok(bad.statusCode === 400 || bad.statusCode === 404, String(bad.statusCode));
  assert.ok(bad.json().error.code);
});

test('secrets in params are never logged', async () => {
  const params = { ...VALID_PARAMS.recaptcha_v2, proxy: { type: 'http', address: 'proxy.example', port: 8080, login: 'u', password: 'hunter2-secret-pw' } };
  assert.equal((await post({ type: 'recaptcha_v2', params })).status, 202);
  await expectField({ type: 'recaptcha_v2', params: { ...params, extra: 1 } }, 'params.extra');
  assert.ok(h.logs.length > 0, 'the app logs at debug');
  assert.ok(!h.logs.some((l) => l.includes('hunter2-secret-pw')), 'password absent from every log line');
});

test('requests read in the same turn share one submit call, each answered for its own task (a reused key gets its first task)', async () => {
  const scriptCalls = async () => [...(await h.worker.info('commandstats')).matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)]
    .reduce((n, m) => n + Number(m[1]), 0);
  const before = await scriptCalls();
  const replies = await Promise.all(Array.from({ length: 40 }, (_, i) =>
    post({ type: 'turnstile', params: VALID_PARAMS.turnstile }, i % 10 === 0 ? { 'idempotency-key': 'same-turn' } : {})));
  const calls = await scriptCalls() - before;
  assert.ok(calls <= 4, `40 submits took ${calls} script calls`);
  assert.ok(replies.every((r) => r.status === 202 || r.status === 200), JSON.stringify(replies.map((r) => r.status)));
  const keyed = replies.filter((_, i) => i % 10 === 0).map((r) => r.json.id);
  assert.equal(new Set(keyed).size, 1, `one task for the key: ${keyed.join(', ')}`);
  const ids = new Set(replies.map((r) => r.json.id));
  assert.equal(ids.size, 40 - 3, 'every other request its own task');
  for (const id of ids) assert.equal((await readTask(h.worker, h.keys, String(id)))?.status, 'queued');
});
