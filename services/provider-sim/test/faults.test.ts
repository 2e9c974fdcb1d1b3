/**
 * Fault injection over the admin API and SIM_FAULTS: outages (refused connections,
 * HTML 500/502 pages), error rates, rate-limit codes, nonsense bodies, slowness,
 * and the rule controls (on, rate, times, durationMs).
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { parseEnv } from '../src/index';
import { admin, api, getQ, http, newKey, putFaults, startSim, submitV2, type TestSim } from './helpers';

const submitText = (t: TestSim, key: string, json = 0) =>
  getQ(t.url, '/in.php', { key, method: 'userrecaptcha', googlekey: 'k', pageurl: 'https://e.com', json });
const balanceText = (t: TestSim, key: string, json = 0) => getQ(t.url, '/res.php', { key, action: 'getbalance', json });

/** Resolves with the network error a client sees, or fails if an answer arrives. */
async function connectionError(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  assert.fail('expected a connection error, got an answer');
}

describe('fault injection', () => {
  let t: TestSim;
  const key = newKey();
  before(async () => (t = await startSim({ latency: { recaptcha_v2: { minMs: 10, maxMs: 10 } } })));
  after(() => t.close());
  beforeEach(() => admin(t.url, '/admin/reset', { method: 'POST' }));

  it('outage refuse: protocol requests get a connection error; admin and health still answer', async () => {
    await putFaults(t.url, { outage: { mode: 'refuse' } });
    const err = await connectionError(submitText(t, key));
    assert.match(err.message, /fetch failed/);
    await connectionError(balanceText(t, key));
    await connectionError(api(t.url, 'getBalance', { clientKey: key }));
    assert.deepEqual(await admin(t.url, '/health'), { status: 'ok' });
    assert.equal(t.sim.state.tasks.size, 0, 'no task was created');
    await admin(t.url, '/admin/faults', { method: 'DELETE' });
    assert.match((await submitText(t, key)).text, /^OK\|/);
    const stats = await admin<{ injectedFaults: { refused: number } }>(t.url, '/admin/stats');
    assert.equal(stats.injectedFaults.refused, 3);
  });

  it('outage on submit only leaves polling working; times limits it to the next N requests', async () => {
    const id = await submitV2(t.url, key);
    await putFaults(t.url, { outage: { mode: 'refuse', on: ['submit'], times: 2 } });
    await connectionError(submitText(t, key));
    assert.notEqual((await getQ(t.url, '/res.php', { key, action: 'get', id })).text, '');
    await connectionError(submitText(t, key));
    assert.match((await submitText(t, key)).text, /^OK\|/, 'third submit goes through');
    assert.deepEqual((await admin(t.url, '/admin/faults')).outage, [], 'the spent rule is gone');
  });

  it('outage http500: an HTML error page with the configured status', async () => {
    await putFaults(t.url, { outage: { mode: 'http500', status: 502, on: 'poll' } });
    const a = await balanceText(t, key, 1);
    assert.equal(a.status, 502);
    assert.match(a.headers.get('content-type') ?? '', /text\/html/);
    assert.match(a.text, /<title>502 Bad Gateway<\/title>/);
    assert.match((await submitText(t, key)).text, /^OK\|/, 'submit is not affected');
    await putFaults(t.url, { outage: { mode: 'http500' } });
    const b = await http(`${t.url}/createTask`, { method: 'POST', body: '{}' });
    assert.equal(b.status, 500);
  });

  it('outage with durationMs ends by itself', async () => {
    await putFaults(t.url, { outage: { mode: 'http500', durationMs: 150 } });
    assert.equal((await balanceText(t, key)).status, 500);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await balanceText(t, key)).text, '1000');
  });

  for (const code of ['MAX_USER_TURN', 'ERROR: 1001', 'ERROR: 1005']) {
    it(`rate limit ${code}: plain and JSON on the chosen phase only`, async () => {
      const on = code === 'ERROR: 1005' ? 'poll' : 'submit';
      await putFaults(t.url, { rateLimit: { code, on } });
      const hit = on === 'submit' ? (json: number) => submitText(t, key, json) : (json: number) => balanceText(t, key, json);
      const miss = on === 'submit' ? () => balanceText(t, key) : () => submitText(t, key);
      assert.equal((await hit(0)).text, code);
      const json = JSON.parse((await hit(1)).text);
      assert.deepEqual([json.status, json.request], [0, code]);
      assert.ok(json.error_text);
      assert.doesNotMatch((await miss()).text, /ERROR|MAX_USER_TURN/);
      const stats = await admin<{ errors: Record<string, number> }>(t.url, `/admin/stats/${key}`);
      assert.equal(stats.errors[code], 2);
    });
  }

  it('rate limits in the JSON API keep the literal code', async () => {
    await putFaults(t.url, { rateLimit: { code: 'ERROR: 1001' } });
    const r = await api(t.url, 'createTask', { clientKey: key, task: { type: 'TurnstileTaskProxyless', websiteURL: 'u', websiteKey: 'k' } });
    assert.equal(r.errorCode, 'ERROR: 1001');
    assert.ok((r.errorId as number) > 0);
  });

  it('error rate: rate 1 answers a transient code on every request; default codes per phase', async () => {
    await putFaults(t.url, { errors: { rate: 1 } });
    for (let i = 0; i < 10; i++) assert.match((await submitText(t, key)).text, /^(ERROR_NO_SLOT_AVAILABLE|ERROR_SERVER_ERROR)$/);
    assert.equal((await balanceText(t, key)).text, 'ERROR_SERVER_ERROR');
    assert.equal(t.sim.state.tasks.size, 0);
    await putFaults(t.url, { errors: { codes: ['ERROR_INTERNAL_SERVER_ERROR'], on: ['poll'] } });
    assert.equal((await balanceText(t, key)).text, 'ERROR_INTERNAL_SERVER_ERROR');
  });

  it('error rate: a fraction of requests fail', async () => {
    await putFaults(t.url, { errors: { rate: 0.3, codes: ['ERROR_SERVER_ERROR'] } });
    let failed = 0;
    for (let i = 0; i < 200; i++) if ((await balanceText(t, key)).text === 'ERROR_SERVER_ERROR') failed++;
    assert.ok(failed > 35 && failed < 85, `${failed} of 200 failed`);
  });

  it('nonsense bodies: garbage, truncated JSON, empty — none parse as a v1 answer', async () => {
    for (const kind of ['garbage', 'truncated-json', 'empty']) {
      await putFaults(t.url, { nonsense: { kind } });
      for (let i = 0; i < 5; i++) {
        const a = await balanceText(t, key, 1);
        assert.equal(a.status, 200);
        assert.throws(() => {
          const v = JSON.parse(a.text);
          if (typeof v?.status !== 'number') throw new Error('not an answer');
        }, `${kind}: ${a.text}`);
      }
    }
    assert.equal(t.sim.state.tasks.size, 0);
  });

  it('nonsense afterProcessing: the task is created (and will be charged) but the client cannot read the id', async () => {
    await putFaults(t.url, { nonsense: { kind: 'truncated-json', afterProcessing: true, on: 'submit', times: 1 } });
    const a = await submitText(t, key, 1);
    assert.throws(() => JSON.parse(a.text));
    assert.equal(t.sim.state.tasks.size, 1);
  });

  it('slow: adds the delay to protocol requests, not to admin requests', async () => {
    await putFaults(t.url, { slow: { delayMs: 200 } });
    let start = Date.now();
    await balanceText(t, key);
    assert.ok(Date.now() - start >= 190, `took ${Date.now() - start} ms`);
    start = Date.now();
    await admin(t.url, '/admin/stats');
    assert.ok(Date.now() - start < 150);
  });

  it('unsolvableRate and numericIds can be switched at runtime; PATCH changes only the named sections', async () => {
    await putFaults(t.url, { unsolvableRate: 1, outage: { mode: 'http500', on: 'poll', times: 1 } });
    await admin(t.url, '/admin/faults', { method: 'PATCH', body: JSON.stringify({ numericIds: true }) });
    const config = await admin<{ unsolvableRate: number; numericIds: boolean; outage: unknown[] }>(t.url, '/admin/faults');
    assert.deepEqual([config.unsolvableRate, config.numericIds, config.outage.length], [1, true, 1]);
    const json = JSON.parse((await submitText(t, key, 1)).text);
    assert.equal(typeof json.request, 'number', 'CaptchaAI-style integer id');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal((await balanceText(t, key)).status, 500);
    assert.equal((await getQ(t.url, '/res.php', { key, action: 'get', id: json.request })).text, 'ERROR_CAPTCHA_UNSOLVABLE');
    await admin(t.url, '/admin/faults', { method: 'PATCH', body: JSON.stringify({ unsolvableRate: null, numericIds: null }) });
    const cleared = await admin<Record<string, unknown>>(t.url, '/admin/faults');
    assert.deepEqual([cleared.unsolvableRate, cleared.numericIds], [undefined, undefined]);
    assert.equal(typeof JSON.parse((await submitText(t, key, 1)).text).request, 'string');
  });

  it('rejects an invalid fault config with HTTP 400 naming the field', async () => {
    const cases: [unknown, RegExp][] = [
      [{ outage: { mode: 'down' } }, /faults\.outage\.mode/],
      [{ errors: { rate: 2 } }, /faults\.errors\.rate/],
      [{ rateLimit: { code: 'ERROR: 9999' } }, /faults\.rateLimit\.code/],
      [{ slow: [{ delayMs: 1 }, { delayMs: -1 }] }, /faults\.slow\[1\]\.delayMs/],
      [{ slow: { delay: 5 } }, /faults\.slow\.delay is not a known field/],
      [{ typo: {} }, /faults\.typo/],
      [{ errors: { on: ['submit', 'later'] } }, /faults\.errors\.on/],
    ];
    for (const [body, message] of cases) {
      const r = await fetch(`${t.url}/admin/faults`, { method: 'PUT', body: JSON.stringify(body) });
      assert.equal(r.status, 400);
      assert.match(((await r.json()) as { error: string }).error, message);
    }
    const notJson = await fetch(`${t.url}/admin/faults`, { method: 'PUT', body: 'nope' });
    assert.equal(notJson.status, 400);
  });
});

describe('SIM_FAULTS', () => {
  it('applies at start and again after POST /admin/reset, which also clears tasks and counters', async () => {
    const { options } = parseEnv({ SIM_FAULTS: JSON.stringify({ rateLimit: { code: 'MAX_USER_TURN', on: 'submit', times: 1 } }) });
    const t = await startSim({ ...options, logger: false });
    try {
      const key = newKey();
      assert.equal((await submitText(t, key)).text, 'MAX_USER_TURN');
      assert.match((await submitText(t, key)).text, /^OK\|/);
      await admin(t.url, '/admin/reset', { method: 'POST' });
      assert.equal(t.sim.state.tasks.size, 0);
      const stats = await admin<{ keys: object; injectedFaults: object; tasks: object }>(t.url, '/admin/stats');
      assert.deepEqual(stats.keys, {});
      assert.deepEqual(stats.injectedFaults, { slowed: 0, refused: 0, http500: 0, rateLimited: 0, errors: 0, nonsense: 0 });
      assert.deepEqual(stats.tasks, { count: 0, solving: 0, solved: 0, unsolvable: 0 });
      assert.equal((await submitText(t, key)).text, 'MAX_USER_TURN');
    } finally {
      await t.close();
    }
  });

  it('an invalid SIM_FAULTS names the variable and the field', () => {
    assert.throws(() => parseEnv({ SIM_FAULTS: '{"outage":{}}' }), /SIM_FAULTS\.outage\.mode is required/);
    assert.throws(() => parseEnv({ SIM_FAULTS: '{nope' }), /SIM_FAULTS is not valid JSON/);
  });

  it('closing the simulator does not wait for a slowed request', async () => {
    const t = await startSim({ faults: parseEnv({ SIM_FAULTS: '{"slow":{"delayMs":60000}}' }).options.faults });
    const pending = balanceText(t, newKey()).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50));
    const start = Date.now();
    await t.close();
    await pending;
    assert.ok(Date.now() - start < 5000);
  });
});
