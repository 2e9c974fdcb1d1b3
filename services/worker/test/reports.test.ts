/**
 * Client reports (gateway reportgood/reportbad) queued on the `reports` stream reach the
 * provider that solved the task, exactly as the provider-side counters show.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { startRedis, waitFor, type RedisServer } from '@solvestream/testkit';
import { createLogger } from '@solvestream/core';
import { encodeReportEntry, keyspace } from '@solvestream/contracts';
import { ProviderClient } from '../src/provider/client';
import { ReportForwarder, REPORTERS_GROUP } from '../src/reports';
import { KEY, startSim, type Sim } from './helpers';

let server: RedisServer;
let sim: Sim;
before(async () => {
  server = await startRedis();
  sim = await startSim();
});
after(async () => {
  await sim.stop();
  await server.stop();
});

test('reports are forwarded to the provider that solved the task; refusals and garbage are acked', async () => {
  const redis = new Redis(server.url);
  const blocking = new Redis(server.url);
  const ks = keyspace();
  const client = new ProviderClient({ name: 'sim', baseUrl: sim.url, key: KEY });
  const id = await client.submit({ type: 'image', params: { body: Buffer.alloc(300, 3).toString('base64') } });
  await waitFor('the solve', async () => (await client.getOne(id, 'image')).state === 'ready', { timeoutMs: 10_000 });
  const router = { report: (_p: string, pid: string, type: 'image', verdict: 'good' | 'bad') => client.report(pid, type, verdict) };
  const fwd = new ReportForwarder({ redis, blockingRedis: blocking, keys: ks, router, logger: createLogger({ service: 't', level: 'silent' }), consumer: 'w1', blockMs: 100 });
  fwd.start();
  try {
    const base = { taskId: 'T', tenant: 't', type: 'image' as const, provider: 'sim', providerTaskId: id, at: Date.now() };
    await redis.xadd(ks.reports, '*', ...encodeReportEntry({ ...base, verdict: 'bad' }));
    await redis.xadd(ks.reports, '*', ...encodeReportEntry({ ...base, verdict: 'bad' })); // duplicate: the provider refuses it
    await redis.xadd(ks.reports, '*', 'garbage', 'entry');
    await redis.xadd(ks.reports, '*', ...encodeReportEntry({ ...base, provider: '', verdict: 'good' })); // unknown provider
    await waitFor('every report handled', () => fwd.stats.forwarded + fwd.stats.refused + fwd.stats.skipped === 4, { timeoutMs: 10_000 });
    assert.deepEqual({ ...fwd.stats }, { forwarded: 1, refused: 1, skipped: 2, failed: 0 });
    const st = (await (await fetch(`${sim.url}/admin/stats/${KEY}`)).json()) as { reportsBad: number };
    assert.equal(st.reportsBad, 1, 'the provider recorded the bad report once');
    const pending = (await redis.xpending(ks.reports, REPORTERS_GROUP)) as [number];
    assert.equal(pending[0], 0, 'everything acked');
  } finally {
    blocking.disconnect();
    await fwd.close();
    redis.disconnect();
  }
});
