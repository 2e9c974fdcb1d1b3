/**
 * Provider key rotation as an operator does it, against the running system: producer,
 * two worker processes, a supervisor and the simulator on a private redis-server. While
 * tasks stream in over HTTP, the provider issues a new key, the operator puts it in
 * force with the real `dr config set` CLI, waits until every worker's heartbeat reports
 * the new version, and the provider revokes the old key.
 *
 * Counts: accepted = answered (every task solved), one result per task, no solve paid
 * twice, and not one request with the revoked key after the revocation. Then a bad key
 * is set and rolled back with `dr config rollback`: the tasks it refused meanwhile are
 * retried and solved.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { sleep, startRedis, waitFor, type RedisServer } from '@solvestream/testkit';
import { keyspace } from '@solvestream/contracts';
import { auditResults, awaitAll, markedTask, mapLimit, runId, SIM_KEY, simChargedTwice, startSystem, submit, type System } from '../src';

const run = promisify(execFile);
const DR_CLI = join(__dirname, '..', '..', '..', 'services', 'dr-recovery', 'dist', 'src', 'cli.js');
const NEW_KEY = 'beefcafebeefcafebeefcafebeefcafe';

let redis: RedisServer;
let system: System;
let client: Redis;
const ks = keyspace();

before(async () => {
  redis = await startRedis({ aof: true });
  system = await startSystem({
    redisUrl: redis.url, workers: 2, supervisors: 1,
    simEnv: { SIM_LATENCY_SCALE: '0.05' },
    workerEnv: { HEARTBEAT_MS: '300', CONFIG_POLL_MS: '200' },
    maxFailures: 20,
  });
  client = new Redis(redis.url);
});
after(async () => {
  client?.disconnect();
  await system?.stop();
  await redis?.stop();
});

async function dr(args: string[], env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run(process.execPath, [DR_CLI, ...args], { env: { ...process.env, REDIS_URL: redis.url, ...env } });
  return stdout;
}
async function sim(path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(system.simUrl + path, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 200, `${path}: ${res.status}`);
  return (await res.json()) as Record<string, unknown>;
}
const requestsWith = async (key: string): Promise<number> => {
  const s = await sim(`/admin/stats/${key}`) as { submits: number; polls: number; balanceChecks: number };
  return s.submits + s.polls + s.balanceChecks;
};
/** Config version each live worker reports in its latest heartbeat. */
async function workerVersions(): Promise<number[]> {
  const out = JSON.parse(await dr(['config', 'show'])) as { instances: Record<string, { service: string; configVersion: number }> };
  return Object.values(out.instances).filter((i) => i.service === 'worker').map((i) => i.configVersion);
}

test('rotation under load: the new key reaches every worker, the old one is revoked, nothing fails or is paid twice', async () => {
  const runTag = runId();
  assert.equal((await fetch(`${system.simUrl}/admin/accounts/${SIM_KEY}`, { method: 'PUT', body: '{}', headers: { 'content-type': 'application/json' } })).status, 200);
  await sim(`/admin/accounts/${SIM_KEY}/rotate`, { newKey: NEW_KEY }); // a second key for the same account
  const ids: string[] = [];
  const load = (async () => {
    for (let i = 0; i < 200; i += 20) {
      ids.push(...(await mapLimit(Array.from({ length: 20 }, (_, j) => markedTask(runTag, i + j)), 20, (t) => submit(system.apiUrl, t))));
      await sleep(150);
    }
  })();
  await sleep(400);
  const set = JSON.parse(await dr(['config', 'set', 'providers.sim.key=@env:ROTATED', '--reason', 'rotation test'], { ROTATED: NEW_KEY })) as { version: number; changes: string[] };
  assert.equal(set.version, 1);
  assert.ok(!JSON.stringify(set).includes(NEW_KEY), 'the CLI never prints the key');
  await waitFor('both workers on version 1', async () => {
    const v = await workerVersions();
    return v.length === 2 && v.every((x) => x === 1);
  }, { timeoutMs: 10_000 });
  await sleep(300); // requests already sent with the old key finish
  await sim(`/admin/accounts/${SIM_KEY}/rotate`, { newKey: NEW_KEY, revokeOld: true });
  const oldKeyRequests = await requestsWith(SIM_KEY);
  await load;

  const states = await awaitAll(system.apiUrl, ids, 90_000);
  assert.equal(ids.length, 200);
  assert.deepEqual(states.filter((s) => s.status !== 'solved').map((s) => [s.id, s.status, s.error?.code]), [], 'accepted = answered');
  const audit = await auditResults(client, ks);
  console.log(`rotation: accepted=${ids.length} solved=${states.length} old-key requests after revoke=${(await requestsWith(SIM_KEY)) - oldKeyRequests} new-key requests=${await requestsWith(NEW_KEY)}`);
  assert.equal(audit.duplicates, 0, 'one result per task');
  assert.equal(await requestsWith(SIM_KEY), oldKeyRequests, 'no request with the revoked key');
  assert.equal(await simChargedTwice(system.simUrl, runTag), 0, 'no solve paid twice');
});

test('a bad key is rolled back with dr config rollback; the tasks refused meanwhile are solved', async () => {
  const runTag = runId();
  const before = JSON.parse(await dr(['config', 'show'])) as { version: number };
  await dr(['config', 'set', 'providers.sim.key=not-a-valid-key-at-all', '--reason', 'typo']);
  await waitFor('workers on the bad version', async () => (await workerVersions()).every((x) => x === before.version + 1), { timeoutMs: 10_000 });
  const ids = await mapLimit(Array.from({ length: 20 }, (_, i) => markedTask(runTag, i)), 20, (t) => submit(system.apiUrl, t));
  await waitFor('the provider refusing the bad key', async () => {
    const s = await sim('/admin/stats/not-a-valid-key-at-all') as { errors: Record<string, number> };
    return (s.errors.ERROR_WRONG_USER_KEY ?? 0) > 0;
  }, { timeoutMs: 10_000 });
  const back = JSON.parse(await dr(['config', 'rollback', String(before.version)])) as { version: number; rollbackOf: number };
  assert.equal(back.rollbackOf, before.version);
  const states = await awaitAll(system.apiUrl, ids, 90_000);
  assert.deepEqual(states.filter((s) => s.status !== 'solved').map((s) => [s.id, s.status, s.error?.code]), [], 'every refused task was retried and solved');
  assert.equal(await simChargedTwice(system.simUrl, runTag), 0);
});
