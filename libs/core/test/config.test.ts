import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, env, parseEnv, scrubSecrets, createLogger, logListening } from '../src';
import { Writable } from 'node:stream';

const schema = {
  PORT: env.int({ doc: 'port', default: 3000, min: 0, max: 65535 }),
  REDIS_URL: env.url({ doc: 'redis', protocols: ['redis:', 'rediss:'] }),
  MODE: env.oneOf(['a', 'b'] as const, { doc: 'mode', default: 'a' }),
  API_KEY: env.optional(env.string({ doc: 'key', secret: true, pattern: /^[a-f0-9]{32}$/, hint: '32 hex chars' })),
  ON: env.bool({ doc: 'flag', default: false }),
};

test('parseEnv applies defaults and parses values', () => {
  const c = parseEnv(schema, { REDIS_URL: 'redis://h:1', ON: 'yes' });
  assert.deepEqual(c, { PORT: 3000, REDIS_URL: 'redis://h:1', MODE: 'a', API_KEY: undefined, ON: true });
});

test('parseEnv names every bad variable and never echoes a secret', () => {
  try {
    parseEnv(schema, { PORT: 'eighty', MODE: 'c', API_KEY: 'super-secret-value', ON: 'maybe' });
    assert.fail('expected ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    const msg = err.message;
    assert.match(msg, /PORT: must be an integer from 0 to 65535 \(got "eighty"\)/);
    assert.match(msg, /REDIS_URL: is required/);
    assert.match(msg, /MODE: must be one of a, b/);
    assert.match(msg, /API_KEY: must be 32 hex chars/);
    assert.match(msg, /ON: must be true or false/);
    assert.doesNotMatch(msg, /super-secret-value/);
  }
});

test('logger redacts secret fields; scrubSecrets removes keys from free text', async () => {
  const lines: string[] = [];
  const dest = new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } });
  const log = createLogger({ service: 't', destination: dest });
  log.info({ key: 'k-123456', provider: { key: 'k-abcdef', name: 'x' }, params: { proxy: { password: 'pw-1234' } } }, 'hello');
  const out = lines.join('');
  assert.doesNotMatch(out, /k-123456|k-abcdef|pw-1234/);
  assert.match(out, /\[REDACTED\]/);
  assert.equal(
    scrubSecrets('GET https://p/in.php?key=abcd1234&json=1 {"clientKey":"zz"} abcd1234', ['abcd1234']),
    'GET https://p/in.php?key=[REDACTED]&json=1 {"clientKey":"[REDACTED]"} [REDACTED]',
  );
});

test('the listening line is printed at any level (launchers read the address from it); other info lines are not', () => {
  const lines: string[] = [];
  const dest = new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } });
  const log = createLogger({ service: 't', level: 'warn', destination: dest });
  log.info('quiet');
  logListening(log, { url: 'http://127.0.0.1:41234', partition: 'p0' });
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0] as string) as Record<string, unknown>;
  assert.deepEqual([line.msg, line.url, line.level, line.service], ['listening', 'http://127.0.0.1:41234', 'info', 't']);
  log.info('still quiet');
  assert.equal(lines.length, 1);
});
