import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { startRedis, type RedisServer } from '@solvestream/testkit';
import { appendAlert, decodeAlertEntry, encodeAlertEntry, keyspace, readAlerts, type AlertEntry } from '../src';

const alert: AlertEntry = {
  kind: 'provider-balance-low',
  source: 'worker-a-1',
  message: 'provider sim balance 0.5 is below the minimum 1',
  at: 1_700_000_000_000,
  data: { provider: 'sim', balance: 0.5, minBalance: 1, fallback: true, note: null },
};

test('alert entry round-trips through encode/decode', () => {
  const fields = encodeAlertEntry(alert);
  assert.deepEqual(fields.slice(0, 2), ['v', '1']);
  assert.deepEqual(decodeAlertEntry('1-0', fields), { ok: true, value: { id: '1-0', ...alert } });
});

test('encodeAlertEntry refuses a bad alert, naming the field', () => {
  assert.throws(() => encodeAlertEntry({ ...alert, kind: 'Balance Low' }), /kind: must be kebab-case/);
  assert.throws(() => encodeAlertEntry({ ...alert, source: '' }), /source: is missing/);
  assert.throws(() => encodeAlertEntry({ ...alert, at: 1.5 }), /at: is not an integer/);
  assert.throws(() => encodeAlertEntry({ ...alert, data: [] as never }), /data: must be an object/);
});

test('decodeAlertEntry reports garbage without throwing', () => {
  const cases: [string[], RegExp][] = [
    [[], /v: unsupported entry version null/],
    [['v', '1', 'kind', 'x', 'source', 's', 'message', 'm', 'at', '1', 'data', '{oops'], /data: is not valid JSON/],
    [['v', '1', 'kind', 'x', 'source', 's', 'message', 'm', 'at', 'soon', 'data', '{}'], /at: is not an integer/],
    [['v', '1', 'kind', 'x', 'message', 'm', 'at', '1', 'data', '{}'], /source: is missing/],
  ];
  for (const [fields, re] of cases) {
    const d = decodeAlertEntry('1-0', fields);
    assert.equal(d.ok, false);
    if (!d.ok) assert.match(d.reason, re);
  }
});

let server: RedisServer;
let redis: Redis;
before(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
after(async () => {
  redis.disconnect();
  await server.stop();
});

test('appendAlert writes to keys.alerts (capped) and readAlerts reads them back in order', async () => {
  const ks = keyspace({ prefix: 'al', partition: 'p9' });
  assert.equal(ks.alerts, 'al:{p9}:alerts');
  await appendAlert(redis, ks, alert);
  await appendAlert(redis, ks, { ...alert, kind: 'provider-balance-ok', at: alert.at + 1, data: { provider: 'sim', balance: 5, minBalance: 1 } });
  await redis.xadd(ks.alerts, '*', 'garbage', 'entry');
  const read = await readAlerts(redis, ks);
  assert.deepEqual(read.map((a) => a.kind), ['provider-balance-low', 'provider-balance-ok']);
  assert.equal(read[1]?.data.balance, 5);

  for (let i = 0; i < 300; i++) await appendAlert(redis, ks, alert, { maxLen: 100 });
  assert.ok((await redis.xlen(ks.alerts)) < 250, 'MAXLEN ~ keeps the stream near its cap');
});
