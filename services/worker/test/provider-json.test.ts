/**
 * The JSON task API client (createTask / getTaskResult / getBalance / reports) against
 * the real simulator: every task type, every outcome class, balance and reports.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep } from '@solvestream/testkit';
import type { TaskSpec, TaskType } from '@solvestream/contracts';
import { ProviderClient } from '../src/provider/client';
import { ProviderError } from '../src/provider/errors';
import { jsonTask } from '../src/provider/protocol-json';
import type { PollSlot } from '../src/provider/types';
import { KEY, startSim, type Sim } from './helpers';
import { keyStats, setAccount, simTask } from './provider-helpers';

let sim: Sim;
let client: ProviderClient;
before(async () => {
  sim = await startSim();
  client = new ProviderClient({ name: 'anti', protocol: 'json', baseUrl: sim.url, key: KEY, timeoutMs: 3000, zeroBalanceIsCapacity: false });
});
after(() => sim.stop());
beforeEach(() => sim.reset());

const specs: TaskSpec[] = [
  { type: 'recaptcha_v2', params: { websiteURL: 'https://j.example/x', websiteKey: '6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-', isInvisible: true } },
  { type: 'recaptcha_v2', params: { websiteURL: 'https://j.example/p', websiteKey: '6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-', proxy: { type: 'http', address: '10.0.0.1', port: 3128, login: 'u', password: 'pw' } } },
  { type: 'recaptcha_v3', params: { websiteURL: 'https://j.example/x', websiteKey: '6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-', pageAction: 'login', minScore: 0.7, isEnterprise: true } },
  { type: 'hcaptcha', params: { websiteURL: 'https://j.example/x', websiteKey: 'a5f74b19-9e45-40e0-b45d-47ff91b7a6c2', data: 'rq', userAgent: 'UA/1' } },
  { type: 'turnstile', params: { websiteURL: 'https://j.example/x', websiteKey: '0x4AAAAAAABS7vwvV6VFfMcD', action: 'login', cData: 'c' } },
  { type: 'image', params: { body: Buffer.alloc(400, 9).toString('base64'), numeric: 1, minLength: 4, maxLength: 6 } },
];

async function settle(id: string, type: TaskType): Promise<Exclude<PollSlot, { state: 'pending' }>> {
  for (let i = 0; i < 200; i++) {
    const s = await client.getOne(id, type);
    if (s.state !== 'pending') return s;
    await sleep(50);
  }
  throw new Error(`task ${id} never settled`);
}

async function classOf(p: Promise<unknown>): Promise<[string, string]> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ProviderError, `expected ProviderError, got ${String(err)}`);
    assert.doesNotMatch(err.message, new RegExp(KEY), 'the key never appears in an error');
    return [err.errorClass, err.code];
  }
  assert.fail('expected a ProviderError');
}

test('the JSON client has no multi-get: its poller polls each id on its own', () => {
  assert.equal(client.multiGet, false);
  assert.equal(new ProviderClient({ name: 'x', protocol: 'json', baseUrl: sim.url, key: KEY, multiGet: true }).multiGet, false);
});

test('every task type: createTask, then getTaskResult returns the solution with its extras', async () => {
  for (const spec of specs) {
    const id = await client.submit(spec);
    assert.match(id, /^\d+$/);
    const slot = await settle(id, spec.type);
    assert.equal(slot.state, 'ready', `${spec.type}: ${JSON.stringify(slot)}`);
    if (slot.state !== 'ready') continue;
    if (spec.type === 'image') assert.match(slot.solution.text ?? '', /^\d{4,6}$/, 'image answers honour numeric/min/max');
    else assert.ok(slot.solution.token);
    if (spec.type === 'turnstile') assert.ok(slot.solution.userAgent, 'Turnstile answers carry the user agent');
    if (spec.type === 'hcaptcha') assert.ok(slot.solution.respKey && slot.solution.userAgent === 'UA/1', 'hCaptcha answers carry respKey and the UA');
    const view = await simTask(sim, id);
    assert.equal(view.via, 'json');
  }
  const v3 = (await simTask(sim, (await client.submit(specs[2]!)))).params;
  assert.equal(v3.type, 'RecaptchaV3TaskProxyless');
  assert.equal(v3.pageAction, 'login');
  const st = await keyStats(sim, KEY);
  assert.equal(st.multiGets, 0);
  assert.equal(st.acceptedSubmits, specs.length + 1);
});

test('task objects use the JSON-API names (proxy fields, enterprise, hCaptcha rqdata)', () => {
  assert.deepEqual(jsonTask(specs[1]!), {
    type: 'RecaptchaV2Task', websiteURL: 'https://j.example/p', websiteKey: '6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-',
    proxyType: 'http', proxyAddress: '10.0.0.1', proxyPort: 3128, proxyLogin: 'u', proxyPassword: 'pw',
  });
  assert.equal(jsonTask({ type: 'recaptcha_v2', params: { websiteURL: 'https://a.b/', websiteKey: 'k', isEnterprise: true } }).type, 'RecaptchaV2EnterpriseTaskProxyless');
  assert.deepEqual(jsonTask(specs[3]!).enterprisePayload, { rqdata: 'rq' });
});

test('each outcome is classified: auth, capacity, failover, retry, permanent', async () => {
  const spec = specs[0]!;
  const bad = new ProviderClient({ name: 'anti', protocol: 'json', baseUrl: sim.url, key: 'short-key' });
  assert.deepEqual(await classOf(bad.submit(spec)), ['auth', 'ERROR_KEY_DOES_NOT_EXIST']);

  await setAccount(sim, KEY, { threads: 0 });
  assert.deepEqual(await classOf(client.submit(spec)), ['capacity', 'ERROR_NO_SLOT_AVAILABLE']);
  await setAccount(sim, KEY, { threads: 100, balance: 0 });
  assert.deepEqual(await classOf(client.submit(spec)), ['failover', 'ERROR_ZERO_BALANCE']);
  await sim.reset();

  await sim.faults({ rateLimit: { code: 'MAX_USER_TURN', on: 'submit' } });
  assert.deepEqual(await classOf(client.submit(spec)), ['capacity', 'MAX_USER_TURN']);
  await sim.faults({ errors: { codes: ['ERROR_SERVER_ERROR'], on: 'submit' } });
  assert.deepEqual(await classOf(client.submit(spec)), ['retry', 'ERROR_SERVER_ERROR']);
  await sim.faults({ outage: { mode: 'http500', status: 503 } });
  assert.deepEqual(await classOf(client.submit(spec)), ['retry', 'HTTP_503']);
  await sim.faults({ outage: { mode: 'refuse' } });
  assert.deepEqual(await classOf(client.submit(spec)), ['retry', 'NETWORK']);
  await sim.faults({ nonsense: { kind: 'garbage' } });
  assert.deepEqual(await classOf(client.submit(spec)), ['retry', 'BAD_RESPONSE']);
  await sim.faults({ nonsense: { kind: 'empty' } });
  assert.deepEqual(await classOf(client.submit(spec)), ['retry', 'BAD_RESPONSE']);

  await sim.faults({});
  assert.deepEqual(await classOf(client.submit({ type: 'image', params: { body: 'AAAA' } })), ['permanent', 'ERROR_ZERO_CAPTCHA_FILESIZE']);
  assert.deepEqual(await classOf(client.submit({ type: 'recaptcha_v2', params: { websiteURL: '', websiteKey: 'k' } })), ['permanent', 'ERROR_PAGEURL']);

  await sim.faults({ unsolvableRate: 1 });
  const slot = await settle(await client.submit(spec), 'recaptcha_v2');
  assert.ok(slot.state === 'error');
  assert.deepEqual([slot.error.errorClass, slot.error.code], ['permanent', 'ERROR_CAPTCHA_UNSOLVABLE']);
  const unknown = await client.getOne('424242', 'recaptcha_v2');
  assert.ok(unknown.state === 'error');
  assert.deepEqual([unknown.error.errorClass, unknown.error.code], ['permanent', 'ERROR_NO_SUCH_CAPCHA_ID']);

  await sim.faults({ outage: { mode: 'refuse', on: 'poll' } });
  const down = await client.getOne('424242', 'recaptcha_v2');
  assert.ok(down.state === 'error' && down.error.code === 'NETWORK', 'a failed poll request is an error slot, not a throw');
});

test('getBalance and report methods pass through', async () => {
  await setAccount(sim, KEY, { balance: 3.25 });
  assert.equal(await client.balance(), 3.25);
  const v2 = await client.submit(specs[0]!);
  const image = await client.submit(specs[5]!);
  const hc = await client.submit(specs[3]!);
  for (const [id, spec] of [[v2, specs[0]!], [image, specs[5]!], [hc, specs[3]!]] as const) assert.equal((await settle(id, spec.type)).state, 'ready');
  await client.report(v2, 'recaptcha_v2', 'good');
  await client.report(image, 'image', 'bad');
  await client.report(hc, 'hcaptcha', 'bad');
  assert.equal((await simTask(sim, v2)).report?.kind, 'good');
  assert.equal((await simTask(sim, image)).report?.kind, 'bad');
  assert.equal((await simTask(sim, hc)).report?.kind, 'bad');
  assert.deepEqual(await classOf(client.report(v2, 'recaptcha_v2', 'good')), ['permanent', 'ERROR_DUPLICATE_REPORT']);
  const st = await keyStats(sim, KEY);
  assert.deepEqual([st.balanceChecks, st.reportsGood, st.reportsBad], [1, 1, 2]);
  assert.equal(client.calls.report, 4);
});
