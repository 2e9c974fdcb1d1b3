import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep } from '@solvestream/testkit';
import type { TaskSpec } from '@solvestream/contracts';
import { ProviderClient } from '../src/provider/client';
import { ProviderError } from '../src/provider/errors';
import { KEY, startSim, type Sim } from './helpers';
import { keyStats, setAccount, simTask } from './provider-helpers';

let sim: Sim;
let client: ProviderClient;
before(async () => {
  sim = await startSim();
  client = new ProviderClient({ name: 'sim', baseUrl: sim.url, key: KEY, timeoutMs: 3000, zeroBalanceIsCapacity: false });
});
after(() => sim.stop());
beforeEach(() => sim.reset());

const specs: TaskSpec[] = [
  { type: 'recaptcha_v2', params: { websiteURL: 'https://a.example/x', websiteKey: '6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-', isInvisible: true } },
  { type: 'recaptcha_v3', params: { websiteURL: 'https://a.example/x', websiteKey: '6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-', pageAction: 'login', minScore: 0.3 } },
  { type: 'hcaptcha', params: { websiteURL: 'https://a.example/x', websiteKey: 'a5f74b19-9e45-40e0-b45d-47ff91b7a6c2', data: 'rq', userAgent: 'UA/1' } },
  { type: 'turnstile', params: { websiteURL: 'https://a.example/x', websiteKey: '0x4AAAAAAABS7vwvV6VFfMcD', cData: 'c', pageData: 'p' } },
  { type: 'image', params: { body: Buffer.alloc(400, 9).toString('base64'), numeric: 1 } },
];

async function until<T>(fn: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await sleep(50);
  }
  throw new Error('no answer');
}

test('every task type: submit, then single get returns the answer with its extras', async () => {
  for (const spec of specs) {
    const id = await client.submit(spec);
    assert.match(id, /^\d+$/);
    const slot = await until(async () => {
      const s = await client.getOne(id, spec.type);
      return s.state === 'pending' ? undefined : s;
    });
    assert.equal(slot.state, 'ready', `${spec.type}: ${JSON.stringify(slot)}`);
    if (slot.state !== 'ready') continue;
    if (spec.type === 'image') assert.ok(slot.solution.text);
    else assert.ok(slot.solution.token);
    if (spec.type === 'turnstile') assert.ok(slot.solution.userAgent, 'turnstile answers carry the user agent');
    if (spec.type === 'hcaptcha') assert.ok(slot.solution.respKey, 'hcaptcha answers carry respKey');
  }
});

test('multi-get: one request answers many ids, in order, with pending slots', async () => {
  const ids = await Promise.all(Array.from({ length: 30 }, () => client.submit(specs[0]!)));
  const types = new Map(ids.map((id) => [id, 'recaptcha_v2' as const]));
  const first = await client.getMany(ids, types);
  assert.equal(first.size, 30);
  const final = await until(async () => {
    const m = await client.getMany(ids, types);
    return [...m.values()].every((s) => s.state === 'ready') ? m : undefined;
  });
  assert.ok([...final.values()].every((s) => s.state === 'ready' && s.solution.token?.startsWith('03A')));
  const st = await sim.stats();
  assert.equal(st.submits, 30);
  assert.ok(st.multiGets >= 2);
});

async function classOf(p: Promise<unknown>): Promise<[string, string, string]> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ProviderError, `expected ProviderError, got ${String(err)}`);
    assert.doesNotMatch(err.message, new RegExp(KEY), 'the key never appears in an error');
    return [err.errorClass, err.code, err.message];
  }
  assert.fail('expected a ProviderError');
}

test('each outcome is classified: retry, capacity, auth, permanent', async () => {
  const spec = specs[0]!;
  const bad = new ProviderClient({ name: 'sim', baseUrl: sim.url, key: 'short-key' });
  assert.deepEqual((await classOf(bad.submit(spec))).slice(0, 2), ['auth', 'ERROR_WRONG_USER_KEY']);

  await sim.faults({ rateLimit: { code: 'MAX_USER_TURN', on: 'submit' } });
  assert.deepEqual((await classOf(client.submit(spec))).slice(0, 2), ['capacity', 'MAX_USER_TURN']);
  await sim.faults({ rateLimit: { code: 'ERROR: 1001', on: 'submit' } });
  assert.deepEqual((await classOf(client.submit(spec))).slice(0, 2), ['capacity', 'ERROR: 1001']);
  await sim.faults({ errors: { codes: ['ERROR_NO_SLOT_AVAILABLE'], on: 'submit' } });
  assert.deepEqual((await classOf(client.submit(spec))).slice(0, 2), ['capacity', 'ERROR_NO_SLOT_AVAILABLE']);
  await sim.faults({ outage: { mode: 'http500', status: 502 } });
  assert.deepEqual((await classOf(client.submit(spec))).slice(0, 2), ['retry', 'HTTP_502']);
  await sim.faults({ outage: { mode: 'refuse' } });
  assert.deepEqual((await classOf(client.submit(spec))).slice(0, 2), ['retry', 'NETWORK']);
  await sim.faults({ nonsense: { kind: 'garbage' } });
  assert.deepEqual((await classOf(client.submit(spec))).slice(0, 2), ['retry', 'BAD_RESPONSE']);
  await sim.faults({ nonsense: { kind: 'truncated-json' } });
  assert.deepEqual((await classOf(client.submit(spec))).slice(0, 2), ['retry', 'BAD_RESPONSE']);

  await sim.faults({ unsolvableRate: 1 });
  const id = await client.submit(spec);
  const slot = await until(async () => {
    const s = await client.getOne(id, 'recaptcha_v2');
    return s.state === 'pending' ? undefined : s;
  });
  assert.equal(slot.state, 'error');
  if (slot.state === 'error') assert.deepEqual([slot.error.errorClass, slot.error.code], ['permanent', 'ERROR_CAPTCHA_UNSOLVABLE']);
});

test('zero balance: failover for balance providers, capacity for CaptchaAI semantics', async () => {
  await fetch(`${sim.url}/admin/accounts/${KEY}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ balance: 0 }) });
  assert.deepEqual((await classOf(client.submit(specs[0]!))).slice(0, 2), ['failover', 'ERROR_ZERO_BALANCE']);
  const captchaai = new ProviderClient({ name: 'captchaai', baseUrl: sim.url, key: KEY, zeroBalanceIsCapacity: true });
  assert.deepEqual((await classOf(captchaai.submit(specs[0]!))).slice(0, 2), ['capacity', 'ERROR_ZERO_BALANCE']);
});

test('balance: getbalance answers the account balance', async () => {
  await setAccount(sim, KEY, { balance: 12.5 });
  assert.equal(await client.balance(), 12.5);
  assert.equal((await keyStats(sim, KEY)).balanceChecks, 1);
});

test('report good/bad passes through to res.php; refusals are permanent errors', async () => {
  const ids = await Promise.all([client.submit(specs[0]!), client.submit(specs[4]!)]);
  for (const [i, id] of ids.entries()) {
    const type = i === 0 ? 'recaptcha_v2' : 'image';
    await until(async () => ((await client.getOne(id, type)).state === 'ready' ? true : undefined));
  }
  await client.report(ids[0]!, 'recaptcha_v2', 'good');
  await client.report(ids[1]!, 'image', 'bad');
  assert.equal((await simTask(sim, ids[0]!)).report?.kind, 'good');
  assert.equal((await simTask(sim, ids[1]!)).report?.kind, 'bad');
  const st = await keyStats(sim, KEY);
  assert.deepEqual([st.reportsGood, st.reportsBad], [1, 1]);

  assert.deepEqual((await classOf(client.report(ids[0]!, 'recaptcha_v2', 'bad'))).slice(0, 2), ['permanent', 'ERROR_DUPLICATE_REPORT']);
  await sim.faults({ unsolvableRate: 1 });
  const failed = await client.submit(specs[0]!);
  await until(async () => ((await client.getOne(failed, 'recaptcha_v2')).state === 'error' ? true : undefined));
  assert.deepEqual((await classOf(client.report(failed, 'recaptcha_v2', 'bad'))).slice(0, 2), ['permanent', 'ERROR_REPORT_NOT_RECORDED']);
});

test('CaptchaAI quirk: a numeric task id in the JSON answer is accepted', async () => {
  await sim.faults({ numericIds: true });
  const id = await client.submit(specs[0]!);
  assert.match(id, /^\d+$/);
});

test('per-slot errors in a multi-get come back in their slot', async () => {
  await sim.faults({ unsolvableRate: 1 });
  const bad = await client.submit(specs[0]!);
  await sim.faults({});
  const good = await client.submit(specs[0]!);
  const types = new Map([[bad, 'recaptcha_v2' as const], [good, 'recaptcha_v2' as const], ['123', 'recaptcha_v2' as const]]);
  const slots = await until(async () => {
    const m = await client.getMany([bad, good, '123'], types);
    return m.get(bad)?.state !== 'pending' && m.get(good)?.state !== 'pending' ? m : undefined;
  });
  const b = slots.get(bad);
  assert.ok(b?.state === 'error' && b.error.code === 'ERROR_CAPTCHA_UNSOLVABLE' && b.error.errorClass === 'permanent');
  assert.equal(slots.get(good)?.state, 'ready');
  const unknown = slots.get('123');
  assert.ok(unknown?.state === 'error' && unknown.error.code === 'ERROR_WRONG_CAPTCHA_ID');
});

test('requests past maxConcurrentRequests wait their turn instead of opening more sockets', async () => {
  await sim.faults({ slow: { delayMs: 150, on: 'submit' } });
  const one = new ProviderClient({ name: 'sim', baseUrl: sim.url, key: KEY, maxConcurrentRequests: 1 });
  const t0 = Date.now();
  await Promise.all(Array.from({ length: 4 }, () => one.submit(specs[0]!)));
  assert.ok(Date.now() - t0 >= 4 * 150, 'four slow submits through one slot ran one after another');
  assert.equal(one.calls.submit, 4);
});

test('every request is told to the observer: phase, duration, and OK or the error code', async () => {
  const calls: { phase: string; code: string; seconds?: number }[] = [];
  const observed = new ProviderClient({ name: 'sim', baseUrl: sim.url, key: KEY, observe: (c) => calls.push(c) });
  const id = await observed.submit(specs[4]!);
  await observed.getOne(id, 'image');
  await sim.faults({ errors: { codes: ['ERROR_NO_SLOT_AVAILABLE'], on: 'submit' } });
  await observed.submit(specs[4]!).catch(() => undefined);
  assert.deepEqual(calls.map((c) => [c.phase, c.code === 'OK' || c.code === 'CAPCHA_NOT_READY' ? 'OK' : c.code]), [['submit', 'OK'], ['poll', 'OK'], ['submit', 'ERROR_NO_SLOT_AVAILABLE']]);
  assert.ok(calls.every((c) => typeof c.seconds === 'number' && c.seconds >= 0));
});
