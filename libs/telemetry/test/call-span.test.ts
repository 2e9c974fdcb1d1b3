import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type Redis from 'ioredis';
import type { RedisServer } from '@solvestream/testkit';
import { trace } from '@opentelemetry/api';
import { injectTrace, startInMemoryTelemetry, startPhaseSpan, startSendSpan, untraced, untracedCommands, withSpan } from '../src';

// Its own file (its own process): the SDK starts before ioredis is loaded (the testkit
// loads it too), so the ioredis instrumentation patches it, as in a service.
const mem = startInMemoryTelemetry('call-span');
/* eslint-disable @typescript-eslint/no-require-imports */
const IORedis = require('ioredis') as typeof import('ioredis').default;
const { startRedis, waitFor } = require('@solvestream/testkit') as typeof import('@solvestream/testkit');
/* eslint-enable @typescript-eslint/no-require-imports */
let server: RedisServer;
let redis: Redis;
before(async () => {
  server = await startRedis();
  redis = new IORedis(server.url);
});
after(async () => {
  redis.disconnect();
  await server.stop();
  await mem.shutdown();
});

const byName = (name: string) => mem.spans().filter((s) => s.name === name);
/** The in-memory exporter gets a span a moment after it ends; spans end in order. */
const exported = (name: string, taskId: string) => waitFor(`span ${name} of ${taskId}`, () =>
  byName(name).find((s) => s.attributes['messaging.message.conversation_id'] === taskId), { timeoutMs: 5000, intervalMs: 10 });

test('untraced: a call made for several traces makes no span; the callers\' spans keep their context; withSpan: a child', async () => {
  mem.reset();
  const plain = startSendSpan('ss:{p0}:tasks:normal', 'T1');
  await withSpan(plain, () => redis.set('k', '1'));
  plain.end();
  await exported('send ss:{p0}:tasks:normal', 'T1');
  const [child] = byName('set');
  assert.ok(child, 'the instrumentation is live: withSpan gives the command its span');
  assert.equal(child.parentSpanContext?.spanId, plain.spanContext().spanId);

  // The producer's shape: each caller's `send` span carries its trace into the entry,
  // then one shared call (queued from the first caller's context) does the write.
  const call = startSendSpan('ss:{p0}:tasks:normal', 'T2');
  const carrier = withSpan(call, () => injectTrace());
  await withSpan(call, () => untraced(async () => {
    await redis.set('k', '2');
    assert.equal(trace.getActiveSpan(), undefined, 'no parent span inside');
  }));
  call.end();
  await exported('send ss:{p0}:tasks:normal', 'T2');
  assert.equal(byName('set').length, 1, 'no span for the call inside untraced');
  assert.equal(carrier.traceparent?.split('-')[2], call.spanContext().spanId, 'the entry names the caller\'s span');
  assert.equal(byName('send ss:{p0}:tasks:normal').length, 2, 'the caller\'s span itself is exported');

  // The suppression ends with the callback.
  const later = startSendSpan('results', 'T3');
  await withSpan(later, () => redis.get('k'));
  later.end();
  await exported('send results', 'T3');
  assert.equal(byName('get').length, 1);
});

test('an auto-pipelined client files a tick\'s commands under its first caller; untracedCommands makes them no spans', async () => {
  const run = async (client: Redis, tag: string): Promise<{ a: string; b: string; afterAwait: boolean }> => {
    const a = startPhaseSpan(`a ${tag}`);
    const b = startPhaseSpan(`b ${tag}`);
    // Two callers, two spans, one tick: both commands leave in one pipeline.
    const [, , sameContext] = await Promise.all([
      withSpan(a, () => client.set(`ka ${tag}`, '1')),
      withSpan(b, () => client.set(`kb ${tag}`, '1')),
      withSpan(b, async () => { await client.get(`kb ${tag}`); return trace.getActiveSpan() === b; }),
    ]);
    a.end();
    b.end();
    return { a: a.spanContext().spanId, b: b.spanContext().spanId, afterAwait: sameContext };
  };
  const piped = new IORedis(server.url, { enableAutoPipelining: true });
  const untraced = untracedCommands(new IORedis(server.url, { enableAutoPipelining: true }));
  try {
    mem.reset();
    const before = await run(piped, 'traced');
    await waitFor('the two set spans', () => (byName('set').length === 2 ? true : undefined), { timeoutMs: 5000, intervalMs: 10 });
    const parents = byName('set').map((s) => s.parentSpanContext?.spanId);
    assert.deepEqual(parents, [before.a, before.a], 'b\'s command is filed under a: the reason for untracedCommands');

    mem.reset();
    const after = await run(untraced, 'untraced');
    assert.ok(after.afterAwait, 'the caller continues in its own context');
    await waitFor('the caller spans', () => (byName('b untraced').length === 1 ? true : undefined), { timeoutMs: 5000, intervalMs: 10 });
    assert.deepEqual(mem.spans().filter((s) => s.name === 'set' || s.name === 'get').map((s) => s.name), [], 'no command spans');
  } finally {
    piped.disconnect();
    untraced.disconnect();
  }
});
