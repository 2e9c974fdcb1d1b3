import { test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { useRedis } from '@solvestream/testkit';
import {
  ConfigConflictError, ConfigInvalidError, configHead, configHistory, diffConfig, keyFingerprint, keyspace, readConfig, redactConfig,
  rollbackConfig, setConfigPath, validateRuntimeConfig, writeConfig, type RuntimeConfig,
} from '../src';

let redis: Redis;
const ks = keyspace({ prefix: 'rc' });
useRedis({ setup: (client) => { redis = client; } });

const OLD_KEY = 'aaaaaaaabbbbbbbbccccccccdddddddd';
const NEW_KEY = 'eeeeeeeeffffffff0000000011111111';

test('versions are appended with compare-and-set; the last one is in force', async () => {
  assert.equal(await readConfig(redis, ks), undefined);
  const v1 = await writeConfig(redis, ks, { doc: { providers: { sim: { key: OLD_KEY } } }, expectedVersion: 0, by: 'ops', reason: 'initial' });
  assert.equal(v1.version, 1);
  const v2 = await writeConfig(redis, ks, { doc: { providers: { sim: { key: NEW_KEY } }, limits: { workerConcurrency: 50 } }, expectedVersion: 1, by: 'ops', reason: 'rotate' });
  assert.equal(v2.version, 2);
  const cur = await readConfig(redis, ks);
  assert.equal(cur?.version, 2);
  assert.equal(cur?.doc.providers?.sim?.key, NEW_KEY);
  assert.equal(cur?.reason, 'rotate');
  // A writer that started from version 1 loses: nothing is overwritten.
  await assert.rejects(
    writeConfig(redis, ks, { doc: { mode: 'emergency' }, expectedVersion: 1, by: 'other', reason: 'stale' }),
    (e: unknown) => e instanceof ConfigConflictError && e.current === 2,
  );
  assert.equal((await readConfig(redis, ks))?.version, 2);
  // Each change told the control stream.
  const control = (await redis.xrange(ks.control, '-', '+')) as [string, string[]][];
  assert.deepEqual(control.map(([, f]) => f[f.indexOf('version') + 1]), ['1', '2']);
});

test('concurrent writers from the same version: exactly one wins', async () => {
  const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) =>
    writeConfig(redis, ks, { doc: { limits: { workerConcurrency: i + 1 } }, expectedVersion: 0, by: `op${i}`, reason: 'race' })));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  assert.equal((await configHistory(redis, ks)).length, 1);
});

test('rollback makes an old doc current as a new version; history only grows', async () => {
  await writeConfig(redis, ks, { doc: { providers: { sim: { key: OLD_KEY } } }, expectedVersion: 0, by: 'ops', reason: 'v1' });
  await writeConfig(redis, ks, { doc: { providers: { sim: { key: NEW_KEY, enabled: false } } }, expectedVersion: 1, by: 'ops', reason: 'bad change' });
  const r = await rollbackConfig(redis, ks, { toVersion: 1, by: 'ops' });
  assert.equal(r.version, 3);
  assert.equal(r.rollbackOf, 1);
  const cur = await readConfig(redis, ks);
  assert.deepEqual(cur?.doc, { providers: { sim: { key: OLD_KEY } } });
  assert.equal(cur?.rollbackOf, 1);
  assert.deepEqual((await configHistory(redis, ks)).map((v) => v.version), [1, 2, 3]);
  await assert.rejects(rollbackConfig(redis, ks, { toVersion: 9, by: 'ops' }), /version 9 does not exist/);
});

test('invalid docs are refused with errors that name the path, never the key', () => {
  const bad = { providers: { sim: { key: 'short', enabeld: true }, 'Bad Name': {} }, order: ['sim', 'sim'], limits: { workerConcurrency: 0 }, mode: 'panic', extra: 1 };
  try {
    validateRuntimeConfig(bad);
    assert.fail('should have thrown');
  } catch (e) {
    assert.ok(e instanceof ConfigInvalidError);
    const text = e.problems.join('\n');
    for (const path of ['extra:', 'providers.sim.key:', 'providers.sim.enabeld:', 'providers.Bad Name:', 'order:', 'limits.workerConcurrency:', 'mode:']) {
      assert.ok(text.includes(path), `names ${path}: ${text}`);
    }
    assert.ok(!text.includes('short'), 'the key value is not echoed');
  }
  assert.throws(() => validateRuntimeConfig([]), ConfigInvalidError);
});

test('garbage entries in the config stream are skipped, not fatal', async () => {
  await writeConfig(redis, ks, { doc: { mode: 'degraded' }, expectedVersion: 0, by: 'ops', reason: 'ok' });
  await redis.xadd(ks.config, '*', 'junk', 'yes');
  await redis.xadd(ks.config, '*', 'v', '1', 'version', '7', 'doc', '{not json');
  assert.equal((await readConfig(redis, ks))?.version, 1, 'the newest VALID version stays in force');
  assert.deepEqual((await configHistory(redis, ks)).map((v) => v.version), [1]);
  assert.equal(await configHead(redis, ks), 7);
  const v = await writeConfig(redis, ks, { doc: { mode: 'auto' }, expectedVersion: 7, by: 'ops', reason: 'after garbage' });
  assert.equal(v.version, 8, 'the CAS counts the newest entry with a numeric version');
  assert.equal((await readConfig(redis, ks))?.doc.mode, 'auto');
});

test('display helpers show keys as fingerprints only', () => {
  const doc: RuntimeConfig = { providers: { sim: { key: OLD_KEY, enabled: true } }, mode: 'auto' };
  const shown = JSON.stringify(redactConfig(doc));
  assert.ok(!shown.includes(OLD_KEY));
  assert.ok(shown.includes(keyFingerprint(OLD_KEY)));
  assert.match(keyFingerprint(OLD_KEY), /^sha256:[0-9a-f]{8}$/);
  const changed = setConfigPath(doc, 'providers.sim.key', NEW_KEY);
  assert.equal(doc.providers?.sim?.key, OLD_KEY, 'setConfigPath copies');
  const diff = diffConfig(doc, setConfigPath(changed, 'limits.workerConcurrency', 10));
  assert.deepEqual(diff, [
    `limits.workerConcurrency: (unset) → 10`,
    `providers.sim.key: "${keyFingerprint(OLD_KEY)}" → "${keyFingerprint(NEW_KEY)}"`,
  ]);
  assert.ok(!diff.join('').includes(NEW_KEY));
  assert.throws(() => setConfigPath(doc, '__proto__.x', 1), ConfigInvalidError);
});
