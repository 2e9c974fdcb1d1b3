/**
 * `dr config …` against a real Redis: set (values, @env keys, removal), show and history
 * never print a key, rollback, usage errors that name the problem, and the config
 * versions surviving a wiped Redis through the archive.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { startRedis, type RedisServer } from '@solvestream/testkit';
import { configHistory, keyFingerprint, keyspace, readConfig } from '@solvestream/contracts';
import { run } from '../src/cli';
import { tempDir } from './helpers';

const keys = keyspace({ prefix: 'ss', partition: 'p0' });
const KEY_A = 'aaaaaaaa11111111bbbbbbbb22222222';
const KEY_B = 'cccccccc33333333dddddddd44444444';
let server: RedisServer;
let redis: Redis;
let dir: string;
before(async () => { server = await startRedis(); redis = new Redis(server.url); });
after(async () => { redis.disconnect(); await server.stop(); });
beforeEach(async () => { await redis.flushall(); dir = tempDir(); });

async function dr(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number; text: string; json: unknown }> {
  const out: string[] = [];
  const code = await run(args, (s) => out.push(s), { REDIS_URL: server.url, ARCHIVE_DIR: dir, ...extraEnv });
  const text = out.join('\n');
  let json: unknown;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { code, text, json };
}

test('set, show, history and rollback; a key is only ever printed as its fingerprint', async () => {
  let r = await dr(['config', 'set', 'providers.sim.key=@env:NEW_SIM_KEY', 'limits.workerConcurrency=300', '--reason', 'initial'], { NEW_SIM_KEY: KEY_A });
  assert.equal(r.code, 0, r.text);
  assert.equal((r.json as { version: number }).version, 1);
  r = await dr(['config', 'set', 'providers.sim.key=@env:NEW_SIM_KEY', 'order=["sim"]', 'mode=degraded'], { NEW_SIM_KEY: KEY_B });
  assert.equal(r.code, 0, r.text);
  r = await dr(['config', 'set', 'limits.workerConcurrency=']); // removes the setting
  assert.equal(r.code, 0, r.text);
  assert.equal((await readConfig(redis, keys))?.doc.limits?.workerConcurrency, undefined);

  const show = await dr(['config', 'show']);
  assert.equal(show.code, 0);
  assert.equal((show.json as { version: number }).version, 3);
  const history = await dr(['config', 'history']);
  assert.deepEqual((history.json as { version: number }[]).map((v) => v.version), [1, 2, 3]);
  assert.ok(((history.json as { changes: string[] }[])[1]!.changes).some((c) => c.includes(keyFingerprint(KEY_B))));
  for (const t of [show.text, history.text, r.text]) {
    assert.ok(!t.includes(KEY_A) && !t.includes(KEY_B), 'no key in the output');
  }

  r = await dr(['config', 'rollback', '1', '--reason', 'undo']);
  assert.equal(r.code, 0, r.text);
  const cur = await readConfig(redis, keys);
  assert.equal(cur?.version, 4);
  assert.equal(cur?.rollbackOf, 1);
  assert.equal(cur?.doc.providers?.sim?.key, KEY_A);
  assert.equal(cur?.doc.limits?.workerConcurrency, 300);
  assert.ok(!r.text.includes(KEY_A));

  // Setting what is already in force writes no version.
  r = await dr(['config', 'set', 'limits.workerConcurrency=300']);
  assert.equal(r.code, 0);
  assert.equal((await configHistory(redis, keys)).length, 4);

  // A whole doc from a file.
  const file = join(dir, 'doc.json');
  writeFileSync(file, JSON.stringify({ mode: 'auto' }));
  r = await dr(['config', 'set', '--file', file]);
  assert.equal(r.code, 0, r.text);
  assert.deepEqual((await readConfig(redis, keys))?.doc, { mode: 'auto' });
});

test('bad input is refused with a message naming it, and nothing is written', async () => {
  const cases: [string[], number, RegExp, Record<string, string>?][] = [
    [['config', 'set', 'limits.workerConcurrency=0'], 1, /limits\.workerConcurrency/],
    [['config', 'set', 'providers.sim.colour=red'], 1, /providers\.sim\.colour: unknown field/],
    [['config', 'set', 'mode=panic'], 1, /mode: must be/],
    [['config', 'set', 'providers.sim.key=@env:MISSING'], 1, /MISSING is not set/],
    [['config', 'set', 'providers.sim.key=short'], 1, /providers\.sim\.key/],
    [['config', 'set', 'nothing'], 2, /expected <path>=<value>/],
    [['config', 'set'], 2, /at least one/],
    [['config', 'rollback', 'x'], 2, /version number/],
    [['config', 'rollback', '7'], 1, /version 7 does not exist/],
    [['config', 'frobnicate'], 2, /unknown config command/],
  ];
  for (const [args, code, message, env] of cases) {
    const r = await dr(args, env);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.text}`);
    assert.match(r.text, message, args.join(' '));
    assert.ok(!r.text.includes('short') || !args.join(' ').includes('key=short'), 'a rejected key value is not echoed');
  }
  assert.equal((await configHistory(redis, keys)).length, 0);
});

test('config versions are archived and come back with a restore of a wiped Redis', async () => {
  await dr(['config', 'set', 'providers.sim.key=@env:K', '--reason', 'v1'], { K: KEY_A });
  await dr(['config', 'set', 'providers.sim.key=@env:K', '--reason', 'v2'], { K: KEY_B });
  const before = await configHistory(redis, keys);
  assert.equal((await dr(['backup'])).code, 0);
  await redis.flushall();
  const restored = await dr(['restore']);
  assert.equal(restored.code, 0, restored.text);
  const after = await configHistory(redis, keys);
  assert.deepEqual(after, before, 'every version, with its entry id');
  assert.equal((await readConfig(redis, keys))?.doc.providers?.sim?.key, KEY_B);
  // And the next change continues the numbering.
  assert.equal((await dr(['config', 'set', 'mode=auto'])).code, 0);
  assert.equal((await readConfig(redis, keys))?.version, 3);
});
