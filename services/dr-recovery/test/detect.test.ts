import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { startRedis, waitFor, type RedisServer } from '@solvestream/testkit';
import { keyspace, readAlerts, readTask } from '@solvestream/contracts';
import { archiveStatus, ArchiveWriter, DrService, readArchive } from '../src';
import { run } from '../src/cli';
import { silent, tempDir, workload } from './helpers';

const keys = keyspace({ prefix: 'ss', partition: 'p0' });
let server: RedisServer;
let redis: Redis;
before(async () => { server = await startRedis(); redis = new Redis(server.url); });
after(async () => { redis.disconnect(); await server.stop(); });

const clients: Redis[] = [];
after(() => { for (const c of clients) c.disconnect(); });

function service(mode: 'auto' | 'manual', dir: string, lags: number[] = []): DrService {
  const writer = ArchiveWriter.open({ dir, prefix: 'ss', partition: 'p0' });
  const own = new Redis(server.url);
  clients.push(own);
  return new DrService({ redis: own, reader: new Redis(server.url), keys, writer, logger: silent, mode, instance: 'dr-t', blockMs: 50, onBatch: (_n, l) => lags.push(l) });
}

test('auto mode: FLUSHALL is noticed, the partition restored at once and an alert appended', async () => {
  await redis.flushall();
  const dir = tempDir();
  const lags: number[] = [];
  const svc = service('auto', dir, lags);
  await svc.start();
  try {
    const ids = await workload(redis, keys, 3, 'a');
    await waitFor('archive caught up', async () => {
      const st = await archiveStatus(redis, keys, dir);
      return Object.values(st.streams).every((s) => s.behind === 0);
    });
    await redis.flushall();
    await waitFor('restored', async () => (await redis.get(keys.drEpoch)) !== null && svc.state === 'ARCHIVING', { timeoutMs: 5000 });
    for (const id of ids.done) assert.equal((await readTask(redis, keys, id))?.status, 'solved');
    for (const id of [...ids.flight, ...ids.queued]) assert.equal((await readTask(redis, keys, id))?.status, 'queued');
    const alerts = await readAlerts(redis, keys);
    assert.ok(alerts.some((a) => a.kind === 'dr-restored' && /vanished/.test(a.message)), JSON.stringify(alerts));
    assert.ok(Math.max(...lags) < 1000, `archive lag ${Math.max(...lags)} ms`);
  } finally {
    await svc.close();
  }
});

test('manual mode: a wiped Redis halts archiving (nothing from the empty Redis is archived) until `dr restore`', async () => {
  await redis.flushall();
  const dir = tempDir();
  const svc = service('manual', dir);
  await svc.start();
  try {
    const ids = await workload(redis, keys, 2, 'm');
    await waitFor('archive caught up', async () => Object.values((await archiveStatus(redis, keys, dir)).streams).every((s) => s.behind === 0));
    await redis.flushall();
    await waitFor('halted', () => svc.state === 'HALTED');
    assert.match(svc.haltReason, /DR_MODE=manual/);
    const before = readArchive(dir).entries.length;
    await redis.xadd(keys.control, '*', 'v', '1', 'cmd', 'noise'); // life in the empty Redis is not archived
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(readArchive(dir).entries.length, before);
    assert.ok((await readAlerts(redis, keys)).some((a) => a.kind === 'dr-halted'));

    const out: string[] = [];
    const env = { REDIS_URL: server.url, ARCHIVE_DIR: dir };
    assert.equal(await run(['restore'], (s) => out.push(s), env), 0, out.join('\n'));
    for (const id of ids.done) assert.equal((await readTask(redis, keys, id))?.status, 'solved');
    await waitFor('archiving again', () => svc.state === 'ARCHIVING');
  } finally {
    await svc.close();
  }
});

test('CLI: status, backup, verify, restore refusal, usage errors', async () => {
  await redis.flushall();
  const dir = tempDir();
  const env = { REDIS_URL: server.url, ARCHIVE_DIR: dir };
  await workload(redis, keys, 2, 'c');
  const out: string[] = [];
  const say = (s: string): void => { out.push(s); };
  assert.equal(await run(['backup'], say, env), 0, out.join('\n'));
  assert.ok(JSON.parse(out.pop() ?? '{}').archived > 0);
  assert.equal(await run(['backup'], say, env), 0);
  assert.equal(JSON.parse(out.pop() ?? '{}').archived, 0, 'nothing new, nothing archived twice');
  assert.equal(await run(['status'], say, env), 0);
  const st = JSON.parse(out.pop() ?? '{}');
  assert.equal(st.epoch, 'ok');
  assert.equal(st.streams.events.behind, 0);
  assert.equal(await run(['verify'], say, env), 0);
  assert.equal(JSON.parse(out.pop() ?? '{}').ok, true);
  assert.equal(await run(['restore'], say, env), 1);
  assert.match(out.pop() ?? '', /restore refused: .*dr:epoch is set/);
  assert.equal(await run(['frobnicate'], say, env), 2);
  assert.match(out.pop() ?? '', /unknown command "frobnicate"/);
  assert.equal(await run(['status'], say, { ...env, REDIS_URL: 'http://x' }), 2);
  assert.match(out.pop() ?? '', /REDIS_URL/);
});
