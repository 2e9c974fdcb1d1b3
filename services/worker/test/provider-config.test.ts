/**
 * Provider configuration from env: the primary, fallbacks, routing knobs; errors name
 * the variable and never show a key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '@solvestream/core';
import { fallbackProviders, parseWorkerEnv, primaryProvider, routingOptions } from '../src/config';

const SECRET = 'f00dfacef00dfacef00dfacef00dface';
const base = { PROVIDER_NAME: 'sim', PROVIDER_URL: 'http://127.0.0.1:9', PROVIDER_KEY: SECRET };

function problems(env: Record<string, string>): string {
  try {
    parseWorkerEnv(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.doesNotMatch(err.message, new RegExp(SECRET), 'a key never appears in a config error');
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

test('the existing variables keep working: one v1 provider, no fallbacks, defaults', () => {
  const e = parseWorkerEnv({ ...base, POLL_INTERVAL_MS: '100', POLL_FIRST_DELAY_SCALE: '0.01' });
  assert.deepEqual(primaryProvider(e), {
    name: 'sim', protocol: 'v1', baseUrl: 'http://127.0.0.1:9', key: SECRET, zeroBalanceIsCapacity: false,
    multiGet: true, maxIdsPerGet: 100, timeoutMs: 15_000, maxConcurrentRequests: 64, minBalance: undefined,
  });
  assert.deepEqual(fallbackProviders(e), []);
  assert.deepEqual(routingOptions(e), {
    breaker: { failureThreshold: 5, resetTimeoutMs: 30_000, halfOpenMaxTrials: 1, successThreshold: 2 },
    balanceIntervalMs: 60_000, pollConcurrency: 8, alertsMaxLen: 10_000,
  });
});

test('CaptchaAI is the primary when its key is set', () => {
  const p = primaryProvider(parseWorkerEnv({ CAPTCHAAI_API_KEY: SECRET, PROVIDER_MIN_BALANCE: '2' }));
  assert.equal(p.name, 'captchaai');
  assert.equal(p.baseUrl, 'https://ocr.captchaai.com');
  assert.equal(p.zeroBalanceIsCapacity, true);
  assert.equal(p.minBalance, 2);
});

test('FALLBACK_PROVIDERS: ordered fallbacks of either protocol, keys inline or from another variable', () => {
  const e = parseWorkerEnv({
    ...base,
    PROVIDER_MIN_BALANCE: '1.5',
    BREAKER_FAILURES: '3', BREAKER_RESET_MS: '5000', BREAKER_HALF_OPEN_TRIALS: '2', BREAKER_SUCCESSES: '4',
    PROVIDER_BALANCE_INTERVAL_MS: '30000',
    FALLBACK_PROVIDERS: JSON.stringify([
      { name: '2captcha', url: 'https://2captcha.com', key: SECRET, multiGet: false },
      { name: 'anti', protocol: 'json', url: 'https://api.anti-captcha.com', keyEnv: 'ANTI_KEY', minBalance: 10 },
    ]),
    ANTI_KEY: 'abcdefabcdefabcdefabcdefabcdefab',
  });
  const f = fallbackProviders(e);
  assert.deepEqual(f.map((p) => [p.name, p.protocol, p.baseUrl, p.multiGet, p.minBalance, p.zeroBalanceIsCapacity]), [
    ['2captcha', 'v1', 'https://2captcha.com', false, 1.5, false],
    ['anti', 'json', 'https://api.anti-captcha.com', undefined, 10, false],
  ]);
  assert.equal(f[1]?.key, 'abcdefabcdefabcdefabcdefabcdefab');
  assert.deepEqual(routingOptions(e).breaker, { failureThreshold: 3, resetTimeoutMs: 5000, halfOpenMaxTrials: 2, successThreshold: 4 });
  assert.equal(routingOptions(e).balanceIntervalMs, 30_000);
});

test('bad fallback config fails start-up naming the variable, entry and field, never the key', () => {
  const fb = (list: unknown) => problems({ ...base, FALLBACK_PROVIDERS: typeof list === 'string' ? list : JSON.stringify(list) });
  assert.match(fb(`[{"name":"x","url":"http://a","key":"${SECRET}"`), /FALLBACK_PROVIDERS: must be a JSON array/);
  assert.match(fb({ name: 'x' }), /FALLBACK_PROVIDERS: must be a JSON array/);
  assert.match(fb([{ name: 'Bad Name', url: 'http://a', key: SECRET }]), /FALLBACK_PROVIDERS: \[0\]\.name: must be 1-32 of/);
  assert.match(fb([{ name: 'ok', url: 'http://a', key: SECRET }, { name: 'b', url: 'ftp://a', key: SECRET }]), /FALLBACK_PROVIDERS: \[1\]\.url: must be an http\(s\) URL/);
  assert.match(fb([{ name: 'b', url: 'http://a', protocol: 'soap', key: SECRET }]), /\[0\]\.protocol: must be "v1" or "json"/);
  assert.match(fb([{ name: 'b', url: 'http://a' }]), /\[0\]\.key: give exactly one of "key"/);
  assert.match(fb([{ name: 'b', url: 'http://a', key: SECRET, keyEnv: 'K' }]), /\[0\]\.key: give exactly one/);
  assert.match(fb([{ name: 'b', url: 'http://a', key: SECRET, minBalance: -1 }]), /\[0\]\.minBalance: must be a number from 0/);
  assert.match(fb([{ name: 'b', url: 'http://a', key: SECRET, multigets: true }]), /\[0\]\.multigets: unknown field/);
  assert.match(fb([{ name: 'b', protocol: 'json', url: 'http://a', key: SECRET, multiGet: true }]), /\[0\]\.multiGet: the JSON task API has no multi-id poll/);
  assert.match(fb([{ name: 'sim', url: 'http://a', key: SECRET }]), /FALLBACK_PROVIDERS: \[0\]\.name: "sim" is already used/);
  assert.match(fb([{ name: 'b', url: 'http://a', keyEnv: 'MISSING_KEY' }]), /FALLBACK_PROVIDERS: \[0\]\.keyEnv: MISSING_KEY is not set/);
  assert.match(problems({ ...base, BREAKER_FAILURES: '0' }), /BREAKER_FAILURES: must be an integer from 1/);
  assert.match(problems({ ...base, PROVIDER_PROTOCOL: 'soap' }), /PROVIDER_PROTOCOL: must be one of v1, json/);
  assert.match(problems({ ...base, PROVIDER_MIN_BALANCE: 'lots' }), /PROVIDER_MIN_BALANCE: must be a number/);
});
