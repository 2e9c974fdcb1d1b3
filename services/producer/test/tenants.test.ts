/**
 * Tenants and auth against a real Redis: Bearer keys on REST, `key` / `clientKey` on the
 * gateway, a tenant sees only its own tasks, keys from a static file and from the
 * `ss-tenants` CLI (add, rotate, revoke, list), open mode, AUTH_REQUIRED, and keys never
 * reaching a log line.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../src/cli';
import { hashKey, parseStaticTenants, TenantConfigError } from '../src/tenants';
import { completeTask, startHarness, VALID_PARAMS, type Harness } from './harness';

const KEY_A = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1';
const KEY_B = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2';

let h: Harness;
before(async () => {
  const doc = JSON.stringify({ tenants: [{ id: 'acme', keys: [`sha256:${hashKey(KEY_A)}`], maxOpen: 10 }, { id: 'beta', keys: [hashKey(KEY_B)] }] });
  h = await startHarness({ staticTenants: parseStaticTenants(doc, 'TENANTS_FILE') });
});
after(async () => {
  await h.close();
});

const bearer = (k: string) => ({ authorization: `Bearer ${k}` });
async function submitAs(key: string | undefined, body: unknown = { type: 'turnstile', params: VALID_PARAMS.turnstile }) {
  const res = await h.app.inject({ method: 'POST', url: '/v1/tasks', headers: { 'content-type': 'application/json', ...(key ? bearer(key) : {}) }, payload: JSON.stringify(body) });
  return { status: res.statusCode, json: res.json() as { id: string; error?: { code: string; field?: string } }, headers: res.headers };
}

test('REST: no key, a malformed key, an unknown key are 401 naming authorization; a tenant key works', async () => {
  for (const headers of [{}, { authorization: 'Basic abc' }, bearer('short'), bearer('cccccccccccccccccccccccccccccccc')]) {
    const res = await h.app.inject({ method: 'GET', url: '/v1/stats', headers });
    assert.equal(res.statusCode, 401, JSON.stringify(headers));
    assert.equal(res.json().error.code, 'UNAUTHORIZED');
    assert.equal(res.json().error.field, 'authorization');
    assert.equal(res.headers['www-authenticate'], 'Bearer');
  }
  const ok = await submitAs(KEY_A);
  assert.equal(ok.status, 202);
  assert.equal(await h.worker.hget(h.keys.task(ok.json.id), 'tenant'), 'acme');
  assert.equal((await h.app.inject({ method: 'GET', url: '/health' })).statusCode, 200, 'probes need no key');
});

test("a tenant sees only its own tasks: another tenant's id is 404 on read, events and cancel, unknown on the gateway", async () => {
  const { json } = await submitAs(KEY_A);
  const id = json.id;
  assert.equal((await h.app.inject({ method: 'GET', url: `/v1/tasks/${id}`, headers: bearer(KEY_A) })).statusCode, 200);
  for (const [method, url] of [['GET', `/v1/tasks/${id}`], ['GET', `/v1/tasks/${id}?wait=1`], ['GET', `/v1/tasks/${id}/events`], ['POST', `/v1/tasks/${id}/cancel`]] as const) {
    const res = await h.app.inject({ method, url, headers: bearer(KEY_B) });
    assert.equal(res.statusCode, 404, `${method} ${url}`);
    assert.equal(res.json().error.code, 'TASK_NOT_FOUND');
  }
  assert.equal((await h.worker.hget(h.keys.task(id), 'status')), 'queued', "B's cancel did not touch A's task");

  const gw = await h.app.inject({ method: 'GET', url: `/in.php?key=${KEY_A}&method=userrecaptcha&googlekey=k&pageurl=https://e.com` });
  const gid = gw.body.slice(3);
  await completeTask(h, gid);
  assert.equal((await h.app.inject({ method: 'GET', url: `/res.php?key=${KEY_B}&action=get&id=${gid}` })).body, 'ERROR_WRONG_CAPTCHA_ID');
  assert.equal((await h.app.inject({ method: 'GET', url: `/res.php?key=${KEY_B}&action=get&ids=${gid}` })).body, 'ERROR_WRONG_CAPTCHA_ID');
  assert.equal((await h.app.inject({ method: 'GET', url: `/res.php?key=${KEY_B}&action=reportbad&id=${gid}` })).body, 'ERROR_WRONG_CAPTCHA_ID');
  assert.match((await h.app.inject({ method: 'GET', url: `/res.php?key=${KEY_A}&action=get&id=${gid}` })).body, /^OK\|/);
  const other = await h.app.inject({ method: 'POST', url: '/getTaskResult', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ clientKey: KEY_B, taskId: Number(gid) }) });
  assert.equal(other.json().errorCode, 'ERROR_NO_SUCH_CAPCHA_ID');
});

test('gateway key errors: missing or malformed → ERROR_WRONG_USER_KEY, unknown → ERROR_KEY_DOES_NOT_EXIST; JSON API → errorId 1', async () => {
  assert.equal((await h.app.inject({ method: 'GET', url: '/res.php?action=getbalance' })).body, 'ERROR_WRONG_USER_KEY');
  assert.equal((await h.app.inject({ method: 'GET', url: '/res.php?key=x!y&action=getbalance' })).body, 'ERROR_WRONG_USER_KEY');
  assert.equal((await h.app.inject({ method: 'GET', url: '/res.php?key=cccccccccccccccccccccccccccccccc&action=getbalance' })).body, 'ERROR_KEY_DOES_NOT_EXIST');
  const j = await h.app.inject({ method: 'GET', url: '/in.php?json=1&key=cccccccccccccccccccccccccccccccc&method=userrecaptcha' });
  assert.equal(j.json().request, 'ERROR_KEY_DOES_NOT_EXIST');
  for (const clientKey of [undefined, 'nope', 'cccccccccccccccccccccccccccccccc']) {
    const r = await h.app.inject({ method: 'POST', url: '/getBalance', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ clientKey }) });
    assert.deepEqual({ id: r.json().errorId, code: r.json().errorCode }, { id: 1, code: 'ERROR_KEY_DOES_NOT_EXIST' });
  }
  assert.equal((await h.app.inject({ method: 'GET', url: `/res.php?key=${KEY_A}&action=getbalance` })).body.length > 0, true);
});

test('ss-tenants CLI: add issues a working key (shown once), key rotates, revoke takes effect, list shows fingerprints only', async () => {
  const env = { REDIS_URL: h.server.url, KEY_PREFIX: h.keys.prefix, PARTITION: h.keys.partition };
  const out: string[] = [];
  const cli = async (...argv: string[]) => {
    out.length = 0;
    const code = await run(argv, (s) => out.push(s), env);
    return { code, text: out.join('\n') };
  };
  const added = await cli('add', 'gamma', '--rate', '5', '--max-open', '3', '--priority', 'high');
  assert.equal(added.code, 0, added.text);
  const issued = JSON.parse(added.text) as { apiKey: string; webhookSecret: string; fingerprint: string };
  assert.match(issued.apiKey, /^[0-9a-f]{32}$/);
  assert.ok(issued.webhookSecret.length >= 16);
  assert.equal((await cli('add', 'gamma')).code, 2, 'adding twice is a usage error');

  const r = await submitAs(issued.apiKey);
  assert.equal(r.status, 202);
  assert.equal(r.json.id && (await h.worker.hget(h.keys.task(r.json.id), 'priority')), 'normal', 'REST priority is per request');
  const gw = await h.app.inject({ method: 'GET', url: `/in.php?key=${issued.apiKey}&method=userrecaptcha&googlekey=k&pageurl=https://e.com` });
  assert.equal(await h.worker.hget(h.keys.task(gw.body.slice(3)), 'priority'), 'high', "gateway submits use the tenant's gatewayPriority");
  assert.equal((await h.app.inject({ method: 'GET', url: `/res.php?key=${issued.apiKey}&action=getbalance` })).body, '1', 'balance = max-open minus open tasks');

  const rotated = JSON.parse((await cli('key', 'gamma')).text) as { apiKey: string };
  const list = await cli('list');
  assert.ok(!list.text.includes(issued.apiKey) && !list.text.includes(rotated.apiKey) && !list.text.includes(issued.webhookSecret), 'list never shows keys or secrets');
  const gamma = (JSON.parse(list.text) as { tenant: string; keys: string[]; settings: Record<string, unknown> }[]).find((t) => t.tenant === 'gamma');
  assert.equal(gamma?.keys.length, 2);
  assert.deepEqual({ ...gamma?.settings }, { ratePerSecond: 5, maxOpen: 3, gatewayPriority: 'high', webhookSecret: 'set' });

  assert.equal((await cli('revoke', issued.fingerprint)).code, 0);
  assert.equal((await submitAs(issued.apiKey)).status, 401, 'a revoked key is refused');
  assert.equal((await submitAs(rotated.apiKey)).status, 202, 'the rotated key still works');
  assert.equal((await cli('set', 'gamma', '--max-open', '50')).code, 0);
  assert.equal((await cli('revoke', '--tenant', 'gamma')).code, 0);
  assert.equal((await submitAs(rotated.apiKey)).status, 401);
  assert.equal((await cli('remove', 'gamma')).code, 0);
  assert.equal((await cli('frobnicate')).code, 2);
  assert.equal((await cli('set', 'nobody')).code, 2);
  assert.equal((await cli('add', 'bad id!')).code, 2);
  assert.equal((await cli('add', 'x', '--rate', 'fast')).code, 2);
  assert.deepEqual(JSON.parse((await cli('hash', KEY_A)).text), { hash: `sha256:${hashKey(KEY_A)}` });
});

test('API keys never reach a log line', async () => {
  const joined = h.logs.join('\n');
  assert.ok(!joined.includes(KEY_A) && !joined.includes(KEY_B), 'no key in the logs');
});

test('static tenant documents: errors name the field; keys must be hashes', () => {
  const bad: [string, RegExp][] = [
    ['not json', /TENANTS_FILE: is not valid JSON/],
    ['{}', /TENANTS_FILE\.tenants: must be an array/],
    ['{"tenants":[{"id":"a b"}]}', /tenants\[0\]\.id/],
    ['{"tenants":[{"id":"a","keys":["plainkey"]}]}', /tenants\[0\]\.keys\[0\]: must be "sha256:<64 hex>"/],
    ['{"tenants":[{"id":"a","maxOpen":-1}]}', /tenants\[0\]\.maxOpen/],
    ['{"tenants":[{"id":"a","ratePerSecond":"x"}]}', /tenants\[0\]\.ratePerSecond/],
    ['{"tenants":[{"id":"a","gatewayPriority":"urgent"}]}', /tenants\[0\]\.gatewayPriority/],
    ['{"tenants":[{"id":"a","colour":"red"}]}', /tenants\[0\]\.colour: is not a known setting/],
  ];
  for (const [text, re] of bad) {
    assert.throws(() => parseStaticTenants(text, 'TENANTS_FILE'), (e: unknown) => e instanceof TenantConfigError && re.test(e.message), text);
  }
});

test('open mode: without any tenant every request is tenant default; AUTH_REQUIRED refuses instead', async () => {
  const open = await startHarness({ server: h.server });
  try {
    await open.worker.del(open.keys.apiKeys);
    const r = await open.app.inject({ method: 'POST', url: '/v1/tasks', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ type: 'turnstile', params: VALID_PARAMS.turnstile }) });
    assert.equal(r.statusCode, 202);
    assert.equal(await open.worker.hget(open.keys.task(r.json().id), 'tenant'), 'default');
    assert.match((await open.app.inject({ method: 'GET', url: '/in.php?method=userrecaptcha&googlekey=k&pageurl=https://e.com' })).body, /^OK\|\d+$/, 'the gateway takes any key, or none');
  } finally {
    await open.close();
  }
  const closed = await startHarness({ server: h.server, authRequired: true });
  try {
    assert.equal((await closed.app.inject({ method: 'GET', url: '/v1/stats' })).statusCode, 401);
    assert.equal((await closed.app.inject({ method: 'GET', url: '/res.php?action=getbalance' })).body, 'ERROR_WRONG_USER_KEY');
  } finally {
    await closed.close();
  }
});
