/** parseEnv: defaults, every variable, and errors that name the variable. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEnv, resolveOptions } from '../src/index';

describe('parseEnv', () => {
  it('defaults: 127.0.0.1:8090, auto accounts with 1000 balance and 100000 threads, reference latencies', () => {
    const c = parseEnv({});
    assert.deepEqual([c.host, c.port], ['127.0.0.1', 8090]);
    const o = resolveOptions(c.options);
    assert.deepEqual([o.autoAccounts, o.defaultBalance, o.defaultThreads, o.latencyScale, o.unsolvableRate], [true, 1000, 100_000, 1, 0.02]);
    assert.deepEqual([o.busyCode, o.maxIds, o.minImageBytes, o.maxImageBytes, o.reportWindowMs], ['ERROR_NO_SLOT_AVAILABLE', 100, 100, 614_400, 900_000]);
    assert.deepEqual(o.latency.recaptcha_v2, { minMs: 15_000, maxMs: 60_000 });
    assert.deepEqual(o.latency.image, { minMs: 500, maxMs: 5000 });
    assert.equal(o.prices.recaptcha_v2, 0.00299);
  });

  it('reads every variable', () => {
    const key = 'a'.repeat(32);
    const c = parseEnv({
      PORT: '0', HOST: '0.0.0.0', SIM_SEED: 's', SIM_ACCOUNTS: `${key}:10:50, ${'b'.repeat(32)}:0.5:1`, SIM_AUTO_ACCOUNTS: 'false',
      SIM_DEFAULT_BALANCE: '5', SIM_DEFAULT_THREADS: '7', SIM_LATENCY_SCALE: '0.01', SIM_LATENCY_TURNSTILE_MS: '100-200',
      SIM_PRICE_IMAGE: '0.001', SIM_UNSOLVABLE_RATE: '0', SIM_BUSY_CODE: 'ERROR_ZERO_BALANCE', SIM_MAX_IDS: '20',
      SIM_MIN_IMAGE_BYTES: '1', SIM_MAX_IMAGE_BYTES: '1000', SIM_REPORT_WINDOW_MS: '60000', SIM_MAX_TASKS: '10', LOG_LEVEL: 'warn',
    });
    const o = resolveOptions(c.options);
    assert.deepEqual([c.host, c.port, o.seed], ['0.0.0.0', 0, 's']);
    assert.deepEqual(o.accounts, [{ key, balance: 10, threads: 50 }, { key: 'b'.repeat(32), balance: 0.5, threads: 1 }]);
    assert.deepEqual([o.autoAccounts, o.defaultBalance, o.defaultThreads, o.latencyScale], [false, 5, 7, 0.01]);
    assert.deepEqual(o.latency.turnstile, { minMs: 100, maxMs: 200 });
    assert.deepEqual([o.prices.image, o.unsolvableRate, o.busyCode, o.maxIds], [0.001, 0, 'ERROR_ZERO_BALANCE', 20]);
    assert.deepEqual([o.minImageBytes, o.maxImageBytes, o.reportWindowMs, o.maxTasks], [1, 1000, 60_000, 10]);
    assert.deepEqual(o.logger, { level: 'warn', base: { service: 'provider-sim', pid: process.pid } });
  });

  const bad: [Record<string, string>, RegExp][] = [
    [{ PORT: '70000' }, /PORT=/],
    [{ SIM_ACCOUNTS: 'short:1:1' }, /SIM_ACCOUNTS: key "short"/],
    [{ SIM_ACCOUNTS: `${'a'.repeat(32)}:x:1` }, /SIM_ACCOUNTS: balance/],
    [{ SIM_ACCOUNTS: `${'a'.repeat(32)}:1` }, /SIM_ACCOUNTS: threads/],
    [{ SIM_AUTO_ACCOUNTS: 'maybe' }, /SIM_AUTO_ACCOUNTS=/],
    [{ SIM_LATENCY_RECAPTCHA_V2_MS: '400-200' }, /SIM_LATENCY_RECAPTCHA_V2_MS=/],
    [{ SIM_LATENCY_IMAGE_MS: 'fast' }, /SIM_LATENCY_IMAGE_MS=/],
    [{ SIM_UNSOLVABLE_RATE: '1.5' }, /SIM_UNSOLVABLE_RATE=/],
    [{ SIM_BUSY_CODE: 'ERROR_FOO' }, /SIM_BUSY_CODE=/],
    [{ SIM_DEFAULT_THREADS: '1.5' }, /SIM_DEFAULT_THREADS=/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL=/],
  ];
  for (const [env, message] of bad) {
    it(`rejects ${JSON.stringify(env)} naming the variable`, () => assert.throws(() => parseEnv(env), message));
  }
});
