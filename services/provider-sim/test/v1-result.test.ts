/**
 * `res.php`: single and multi-id `get` (plain and JSON), `get2`, `getbalance`,
 * `reportgood` / `reportbad`, and the result-time error codes. A fake clock makes
 * tasks ready exactly when the test says.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fakeClock, getQ, newKey, postJson, startSim, submitV2, type TestSim } from './helpers';

const LATENCY = { minMs: 1000, maxMs: 1000 };

describe('res.php', () => {
  const clock = fakeClock();
  let t: TestSim;
  before(async () => {
    t = await startSim({
      now: clock.now,
      maxIds: 5,
      latency: { recaptcha_v2: LATENCY, recaptcha_v3: LATENCY, hcaptcha: LATENCY, turnstile: LATENCY, image: LATENCY },
    });
  });
  after(() => t.close());
  const res = (params: Record<string, string | number>) => getQ(t.url, '/res.php', params);

  it('get: CAPCHA_NOT_READY until solved, then OK|<03A… token> (plain) or status 1 (JSON)', async () => {
    const key = newKey();
    const id = await submitV2(t.url, key);
    assert.equal((await res({ key, action: 'get', id })).text, 'CAPCHA_NOT_READY');
    assert.deepEqual(JSON.parse((await res({ key, action: 'get', id, json: 1 })).text), { status: 0, request: 'CAPCHA_NOT_READY' });
    clock.advance(1000);
    const plain = (await res({ key, action: 'get', id })).text;
    assert.match(plain, /^OK\|03A[\w-]+$/);
    assert.ok(plain.length > 400 && plain.length < 700, `token length ${plain.length}`);
    const json = JSON.parse((await res({ key, action: 'get', id, json: '1' })).text);
    assert.equal(json.status, 1);
    assert.equal(`OK|${json.request}`, plain, 'same token on every poll');
  });

  it('get: Turnstile carries useragent, hCaptcha respKey + useragent in JSON', async () => {
    const key = newKey();
    const submit = async (method: string) =>
      JSON.parse((await getQ(t.url, '/in.php', { key, method, sitekey: 'k', pageurl: 'https://e.com', json: 1 })).text).request as string;
    const turnstile = await submit('turnstile');
    const hcaptcha = await submit('hcaptcha');
    clock.advance(1000);
    const ts = JSON.parse((await res({ key, action: 'get', id: turnstile, json: 1 })).text);
    assert.match(ts.request, /^0\./);
    assert.match(ts.useragent, /^Mozilla\/5\.0/);
    const hc = JSON.parse((await res({ key, action: 'get', id: hcaptcha, json: 1 })).text);
    assert.match(hc.request, /^P1_/);
    assert.match(hc.respKey, /^E0_/);
    assert.match(hc.useragent, /^Mozilla\/5\.0/);
  });

  it('get with ids=: plain answers joined by | without OK|, unready slots CAPCHA_NOT_READY', async () => {
    const key = newKey();
    const a = await submitV2(t.url, key);
    clock.advance(1000);
    const b = await submitV2(t.url, key);
    const c = await submitV2(t.url, key, { googlekey: 'other' });
    clock.advance(999);
    const plain = (await res({ key, action: 'get', ids: `${a},${b}` })).text;
    const [s1, s2, ...rest] = plain.split('|');
    assert.equal(rest.length, 0);
    assert.match(s1!, /^03A/);
    assert.equal(s2, 'CAPCHA_NOT_READY');
    const json = JSON.parse((await res({ key, action: 'get', ids: `${b},${c}`, json: 1 })).text);
    assert.deepEqual(json, { status: 1, request: 'CAPCHA_NOT_READY|CAPCHA_NOT_READY' }, 'status 1 even when none is ready');
    clock.advance(1);
    const all = JSON.parse((await res({ key, action: 'get', ids: `${c}, ${a},${b}`, json: 1 })).text);
    const slots = all.request.split('|');
    assert.equal(slots.length, 3);
    assert.ok(slots.every((s: string) => s.startsWith('03A')));
    assert.equal(slots[1], s1, 'slots follow the order of ids');
  });

  it('get with ids=: unknown ids get ERROR_WRONG_CAPTCHA_ID in their slot; bad format and too many ids fail the request', async () => {
    const key = newKey();
    const a = await submitV2(t.url, key);
    assert.equal((await res({ key, action: 'get', ids: `${a},123` })).text, 'CAPCHA_NOT_READY|ERROR_WRONG_CAPTCHA_ID');
    assert.equal((await res({ key, action: 'get', ids: `${a},abc` })).text, 'ERROR_WRONG_ID_FORMAT');
    const six = [a, a, a, a, a, a].join(',');
    const json = JSON.parse((await res({ key, action: 'get', ids: six, json: 1 })).text);
    assert.equal(json.status, 0);
    assert.equal(json.request, 'ERROR_BAD_PARAMETERS');
    assert.equal((await res({ key, action: 'get', ids: [a, a, a, a, a].join(',') })).text.split('|').length, 5, 'maxIds is allowed');
  });

  it('get2 answers the price: OK|answer|price, JSON price field', async () => {
    const key = newKey();
    const id = await submitV2(t.url, key);
    clock.advance(1000);
    const plain = (await res({ key, action: 'get2', id })).text.split('|');
    assert.equal(plain[0], 'OK');
    assert.match(plain[1]!, /^03A/);
    assert.equal(plain[2], '0.00299');
    const json = JSON.parse((await res({ key, action: 'get2', id, json: 1 })).text);
    assert.equal(json.status, 1);
    assert.equal(json.price, '0.00299');
    assert.equal(json.request, plain[1]);
  });

  it('getbalance: a bare decimal in plain text, status 1 in JSON', async () => {
    const key = newKey();
    assert.equal((await res({ key, action: 'getbalance' })).text, '1000');
    await submitV2(t.url, key);
    clock.advance(1000);
    assert.equal((await res({ key, action: 'getbalance' })).text, '999.99701');
    assert.deepEqual(JSON.parse((await res({ key, action: 'getbalance', json: 1 })).text), { status: 1, request: '999.99701' });
  });

  it('accepts res.php as a POST JSON body', async () => {
    const key = newKey();
    const a = await postJson(t.url, '/res.php', { key, action: 'getbalance', json: 1 });
    assert.equal(JSON.parse(a.text).request, '1000');
  });

  it('reportgood / reportbad: OK_REPORT_RECORDED once, then ERROR_DUPLICATE_REPORT; refused before solve and after 15 min', async () => {
    const key = newKey();
    const a = await submitV2(t.url, key);
    const b = await submitV2(t.url, key);
    assert.equal((await res({ key, action: 'reportbad', id: a })).text, 'ERROR_REPORT_NOT_RECORDED', 'not solved yet');
    clock.advance(1000);
    assert.equal((await res({ key, action: 'reportgood', id: a })).text, 'OK_REPORT_RECORDED');
    assert.deepEqual(JSON.parse((await res({ key, action: 'reportbad', id: b, json: 1 })).text), { status: 1, request: 'OK_REPORT_RECORDED' });
    assert.equal((await res({ key, action: 'reportbad', id: a })).text, 'ERROR_DUPLICATE_REPORT');
    assert.equal((await res({ key, action: 'reportbad', id: b })).text, 'ERROR_DUPLICATE_REPORT');
    const late = await submitV2(t.url, key);
    clock.advance(15 * 60_000 + 1);
    assert.equal((await res({ key, action: 'reportbad', id: late })).text, 'ERROR_REPORT_NOT_RECORDED');
  });

  it('errors: ERROR_WRONG_ID_FORMAT, ERROR_WRONG_CAPTCHA_ID (unknown or another key\'s id), ERROR_EMPTY_ACTION, bad key', async () => {
    const key = newKey();
    const other = await submitV2(t.url, newKey());
    assert.equal((await res({ key, action: 'get', id: '12ab' })).text, 'ERROR_WRONG_ID_FORMAT');
    assert.equal((await res({ key, action: 'get' })).text, 'ERROR_WRONG_ID_FORMAT');
    assert.equal((await res({ key, action: 'get', id: '999' })).text, 'ERROR_WRONG_CAPTCHA_ID');
    assert.equal((await res({ key, action: 'get', id: other })).text, 'ERROR_WRONG_CAPTCHA_ID');
    assert.equal((await res({ key, id: other })).text, 'ERROR_EMPTY_ACTION');
    assert.equal((await res({ key, action: '' })).text, 'ERROR_EMPTY_ACTION');
    assert.equal((await res({ key: 'nope', action: 'getbalance' })).text, 'ERROR_WRONG_USER_KEY');
    const json = JSON.parse((await res({ key, action: 'get', id: 'x', json: 1 })).text);
    assert.equal(json.request, 'ERROR_WRONG_ID_FORMAT');
    assert.ok(json.error_text);
  });
});

describe('res.php with unsolvable tasks', () => {
  it('answers ERROR_CAPTCHA_UNSOLVABLE, frees the thread and does not charge', async () => {
    const clock = fakeClock();
    const t = await startSim({ now: clock.now, unsolvableRate: 1, defaultThreads: 1, latency: { recaptcha_v2: LATENCY } });
    try {
      const key = newKey();
      const id = await submitV2(t.url, key);
      clock.advance(1000);
      const json = JSON.parse((await getQ(t.url, '/res.php', { key, action: 'get', id, json: 1 })).text);
      assert.equal(json.request, 'ERROR_CAPTCHA_UNSOLVABLE');
      assert.ok(json.error_text);
      assert.equal((await getQ(t.url, '/res.php', { key, action: 'get', ids: `${id},${id}` })).text, 'ERROR_CAPTCHA_UNSOLVABLE|ERROR_CAPTCHA_UNSOLVABLE');
      assert.equal((await getQ(t.url, '/res.php', { key, action: 'getbalance' })).text, '1000', 'not charged');
      await submitV2(t.url, key); // the only thread is free again
    } finally {
      await t.close();
    }
  });
});
