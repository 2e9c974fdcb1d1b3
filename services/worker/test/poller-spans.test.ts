/**
 * Tracing of batched polls against the real simulator: one `poll <provider>` request
 * span per poll request, a root linked to the poll-phase span of every task it asks
 * about, with the provider task id on each link.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startInMemoryTelemetry, startPhaseSpan } from '@solvestream/telemetry';
import type { TaskSpec } from '@solvestream/contracts';
import { ProviderClient } from '../src/provider/client';
import { Poller } from '../src/provider/poller';
import { KEY, startSim, type Sim } from './helpers';

const telemetry = startInMemoryTelemetry('worker-test');
let sim: Sim;
before(async () => { sim = await startSim(); });
after(async () => {
  await sim?.stop();
  await telemetry.shutdown();
});

const spec = (i: number): TaskSpec => ({ type: 'image', params: { body: Buffer.alloc(200, i).toString('base64') } } as TaskSpec);

test('one multi-id poll request is one span linked to every task it polls', async () => {
  const client = new ProviderClient({ name: 'sim', baseUrl: sim.url, key: KEY, maxIdsPerGet: 100 });
  const poller = new Poller(client, { intervalMs: 50, tickMs: 10 });
  try {
    const ids = await Promise.all([1, 2, 3].map((i) => client.submit(spec(i))));
    const phases = ids.map((id) => ({ id, span: startPhaseSpan('poll', { 'solvestream.provider.task_id': id }) }));
    // All due at once, so the first request asks for all three.
    const at = Date.now() + 30;
    const outcomes = await Promise.all(phases.map((p) => poller.watch(p.id, 'image', { firstPollAt: at, deadline: Date.now() + 30_000, trace: p.span.spanContext() })));
    for (const p of phases) p.span.end();
    assert.ok(outcomes.every((o) => o.state === 'ready'), JSON.stringify(outcomes));

    const requests = telemetry.spans().filter((s) => s.name === 'poll sim');
    assert.ok(requests.length >= 1);
    const first = requests[0]!;
    assert.equal(first.parentSpanContext, undefined, 'a root: the request belongs to no single task');
    assert.equal(first.attributes['solvestream.poll.batch_size'], 3);
    assert.deepEqual(
      first.links.map((l) => [l.context.spanId, l.attributes?.['solvestream.provider.task_id']]).sort(),
      phases.map((p) => [p.span.spanContext().spanId, p.id]).sort(),
    );
    // Every poll of every task is covered by some request span linked to it.
    for (const p of phases) {
      assert.ok(requests.some((r) => r.links.some((l) => l.context.spanId === p.span.spanContext().spanId)));
    }
  } finally {
    poller.close();
  }
});
