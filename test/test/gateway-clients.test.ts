/**
 * The real npm CAPTCHA clients, unchanged except for their base URL, solve tasks
 * against a running system (producer + 2 workers + the provider simulator as real
 * processes) through the compatible gateway, with tenant API keys configured:
 *
 *   @2captcha/captcha-solver        balance, reCAPTCHA v2, Turnstile (+ user agent), image (POST JSON), reports
 *   2captcha (Furry)                reCAPTCHA with invisible=false, image as JSON in text/plain, balance, report
 *   rucaptcha-2captcha              image (POST JSON), multi-id polling, get2, plain-text balance, report
 *   @antiadmin/anticaptchaofficial  createTask/getTaskResult for reCAPTCHA, image, Turnstile; balance; report
 *
 * What a user would notice: every call resolves with an answer, a wrong key is refused
 * with the protocol's code, another tenant's task id is unknown, and each CAPTCHA was
 * submitted to (and paid at) the provider once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startRedis, type RedisServer } from '@solvestream/testkit';
import { startSystem, type System } from '../src';
import { antiCaptcha, furrySolver, ruCaptcha, twoCaptchaSolver } from '../src/gateway-clients';

const KEY_A = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const KEY_B = 'b1b2c3d4e5f60718293a4b5c6d7e8f90';
const sha = (k: string): string => `sha256:${createHash('sha256').update(k).digest('hex')}`;
const run = Date.now().toString(36);
/** A distinct "image" per call: the simulator fingerprints images by their bytes. */
const image = (tag: string): string => Buffer.concat([Buffer.from(`${run}:${tag}:`), Buffer.alloc(400, 0x42)]).toString('base64');
const page = (n: string): string => `https://gw-${run}.example.com/${n}`;
const GOOGLEKEY = '6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-';

let redis: RedisServer;
let system: System;
const restores: (() => void)[] = [];

before(async () => {
  redis = await startRedis();
  system = await startSystem({
    redisUrl: redis.url,
    workers: 2,
    producerEnv: {
      LOG_LEVEL: 'warn',
      TENANTS_JSON: JSON.stringify({ tenants: [{ id: 'acme', keys: [sha(KEY_A)], maxOpen: 1000 }, { id: 'other', keys: [sha(KEY_B)] }] }),
    },
  });
});
after(async () => {
  for (const r of restores) r();
  await system?.stop();
  await redis?.stop();
});

test('@2captcha/captcha-solver: balance, reCAPTCHA v2, Turnstile, image, reports', async () => {
  const solver = twoCaptchaSolver(system.apiUrl, KEY_A);
  const balance = await solver.balance();
  assert.ok(balance > 0 && balance <= 1000, `balance is the tenant's free task slots: ${balance}`);

  const rc = await solver.recaptcha({ pageurl: page('2c-rc'), googlekey: GOOGLEKEY });
  assert.ok(rc.data.length > 20, 'a token');
  assert.match(rc.id, /^\d+$/);
  // A challenge-page Turnstile (action + cData): the answer carries the solver's user agent.
  const ts = await solver.cloudflareTurnstile({ pageurl: page('2c-ts'), sitekey: '0x4AAAAAAABS7vwvV6VFfMcD', action: 'login', data: 'cdata-1' });
  assert.ok(ts.data.length > 10);
  assert.ok(ts.useragent, 'Turnstile answers carry the solver user agent');
  const img = await solver.imageCaptcha({ body: image('2c'), textinstructions: `2c-img-${run}` });
  assert.ok(img.data.length > 0, 'image text');

  await solver.badReport(rc.id);
  await solver.goodReport(ts.id);
  // (balance() wraps every error as "unexpected" — a library bug — so the submit path is checked.)
  await assert.rejects(twoCaptchaSolver(system.apiUrl, 'ffffffffffffffffffffffffffffffff').recaptcha({ pageurl: page('x'), googlekey: GOOGLEKEY }), (e: { err?: string }) => e.err === 'ERROR_KEY_DOES_NOT_EXIST');
});

test('2captcha (Furry): reCAPTCHA with invisible=false and an image sent as JSON in text/plain', async () => {
  const solver = furrySolver(system.apiUrl, KEY_A);
  const rc = await solver.recaptcha(GOOGLEKEY, page('furry-rc'));
  assert.ok(rc.data.length > 20);
  const img = await solver.imageCaptcha(image('furry'), { textinstructions: `furry-img-${run}` });
  assert.ok(img.data.length > 0);
  assert.ok((await solver.balance()) > 0);
  await solver.report(rc.id); // resolves on OK_REPORT_RECORDED, throws otherwise
  await assert.rejects(solver.report(rc.id), /already reported/); // ERROR_DUPLICATE_REPORT, in the library's words
});

test('rucaptcha-2captcha: image, multi-id polling, get2, plain balance, report', async () => {
  const { client, restore } = ruCaptcha(system.apiUrl, KEY_A);
  restores.push(restore);
  const [a, b] = await Promise.all([
    client.send({ method: 'base64', body: image('ru-a'), textinstructions: `ru-a-${run}` }),
    client.send({ method: 'base64', body: image('ru-b'), textinstructions: `ru-b-${run}` }),
  ]);
  const both = await client.get(`${a},${b}`);
  assert.ok(Array.isArray(both) && both.length === 2 && both.every((x) => x.length > 0), JSON.stringify(both));
  const withPrice = await client.getWithPrice(a);
  assert.equal(withPrice.token, both[0]);
  assert.ok((await client.getBalance()) > 0, 'plain-text balance parses as a number');
  assert.deepEqual(await client.reportBad(b), { status: 1, request: 'OK_REPORT_RECORDED' });
});

test('@antiadmin/anticaptchaofficial: createTask / getTaskResult for reCAPTCHA, image and Turnstile; balance; report', async () => {
  const { client, restore } = antiCaptcha(system.apiUrl, KEY_A);
  restores.push(restore);
  assert.ok((await client.getBalance()) > 0);
  const token = await client.solveRecaptchaV2Proxyless(page('ac-rc'), GOOGLEKEY);
  assert.ok(token.length > 20);
  assert.ok(client.session.taskId > 0 && Number.isSafeInteger(client.session.taskId), 'numeric taskId');
  await client.reportIncorrectRecaptcha();
  const text = await client.solveImage(image('ac'));
  assert.ok(text.length > 0);
  const ts = await client.solveTurnstileProxyless(page('ac-ts'), '0x4AAAAAAABS7vwvV6VFfMcD');
  assert.ok(ts.length > 10);
  client.setAPIKey('0000000000000000000000000000000x');
  await assert.rejects(client.getBalance(), /ERROR_KEY_DOES_NOT_EXIST/);
});

test('tenants are isolated on the gateway, and every CAPTCHA was submitted to the provider once', async () => {
  const solver = twoCaptchaSolver(system.apiUrl, KEY_A);
  const mine = await solver.recaptcha({ pageurl: page('iso'), googlekey: GOOGLEKEY });
  const theirs = await fetch(`${system.apiUrl}/res.php?key=${KEY_B}&action=get&id=${mine.id}&json=1`);
  assert.deepEqual(await theirs.json(), { status: 0, request: 'ERROR_WRONG_CAPTCHA_ID', error_text: 'No captcha with this id (unknown, expired or not yours).' });
  const rest = await fetch(`${system.apiUrl}/v1/tasks/${mine.id}`, { headers: { authorization: `Bearer ${KEY_A}` } });
  assert.equal(rest.status, 200, 'gateway tasks are readable over REST by their owner');
  assert.equal((await fetch(`${system.apiUrl}/v1/tasks/${mine.id}`, { headers: { authorization: `Bearer ${KEY_B}` } })).status, 404);
  assert.equal((await fetch(`${system.apiUrl}/v1/tasks/${mine.id}`)).status, 401, 'REST needs a key once tenants exist');

  const dup = (await (await fetch(`${system.simUrl}/admin/duplicates?q=${run}&charged=true`)).json()) as { count: number };
  assert.equal(dup.count, 0, 'no CAPTCHA paid twice');
});
