import { test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { startRedis } from '@solvestream/testkit';
import { ensureWorkerGroups, keyspace, WORKERS_GROUP } from '@solvestream/contracts';
import { Counter, createRegistry, registerStreamMetrics, startOpsServer } from '../src';

/** Parses Prometheus text into `name{labels}` → value. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

test('stream gauges per lane, custom counters and default metrics are scraped over HTTP; probes answer', async () => {
  const server = await startRedis();
  const redis = new Redis(server.url);
  const ks = keyspace();
  let ready = true;
  try {
    await ensureWorkerGroups(redis, ks);
    for (let i = 0; i < 5; i++) await redis.xadd(ks.lane('high'), '*', 'k', 'v');
    await redis.xreadgroup('GROUP', WORKERS_GROUP, 'c', 'COUNT', 2, 'STREAMS', ks.lane('high'), '>');
    const registry = createRegistry('worker', 'w1');
    registerStreamMetrics(registry, redis, ks);
    const solved = new Counter({ name: 'solvestream_tasks_completed_total', help: 'x', labelNames: ['type', 'outcome'], registers: [registry] });
    solved.inc({ type: 'image', outcome: 'solved' }, 3);
    const ops = await startOpsServer({
      port: 0, host: '127.0.0.1', registry,
      live: () => ({ ok: true, detail: { loop: 'running' } }),
      ready: async () => { if (!ready) throw new Error('draining'); },
    });
    try {
      const m = parse(await (await fetch(`${ops.url}/metrics`)).text());
      assert.equal(m.get('solvestream_stream_length{lane="high",service="worker",instance="w1"}'), 5);
      assert.equal(m.get('solvestream_stream_pending_messages{lane="high",service="worker",instance="w1"}'), 2);
      assert.equal(m.get('solvestream_stream_group_lag{lane="high",service="worker",instance="w1"}'), 3);
      assert.equal(m.get('solvestream_tasks_completed_total{type="image",outcome="solved",service="worker",instance="w1"}'), 3);
      assert.ok([...m.keys()].some((k) => k.startsWith('process_resident_memory_bytes')));
      assert.equal((await fetch(`${ops.url}/health`)).status, 200);
      assert.equal((await fetch(`${ops.url}/readyz`)).status, 200);
      ready = false;
      const nr = await fetch(`${ops.url}/health/ready`);
      assert.equal(nr.status, 503);
      assert.match(await nr.text(), /draining/);
      assert.equal((await fetch(`${ops.url}/nope`)).status, 404);
    } finally {
      await ops.close();
    }
  } finally {
    redis.disconnect();
    await server.stop();
  }
});
