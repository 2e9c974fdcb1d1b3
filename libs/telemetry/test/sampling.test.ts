import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TraceFlags } from '@opentelemetry/api';
import { injectTrace, startBatchSpan, startInMemoryTelemetry, startPhaseSpan, startProcessSpan, startSendSpan, tracer, withSpan } from '../src';

// Its own file (its own process): it starts the SDK with a sampler of its own.
const sampled = (s: { spanContext(): { traceFlags: number } }): boolean => (s.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0;

test('parentbased_traceidratio: the worker keeps exactly the tasks the producer kept, and a poll request serving a kept task is kept', async () => {
  const mem = startInMemoryTelemetry('sampling', { name: 'parentbased_traceidratio', arg: '0.5' });
  try {
    const N = 400;
    let kept = 0;
    const polled: { context: ReturnType<ReturnType<typeof startPhaseSpan>['spanContext']>; kept: boolean }[] = [];
    for (let i = 0; i < N; i++) {
      const send = startSendSpan('lane', `T${i}`);
      const carrier = withSpan(send, () => injectTrace());
      send.end();
      // Link mode (the default): a new root linked to the submit.
      const process = startProcessSpan({ destination: 'lane', group: 'workers', consumer: 'w', messageId: `${i}-0`, taskId: `T${i}`, attempt: 1, carrier });
      assert.equal(sampled(process), sampled(send), `task ${i}: the worker decided like the producer`);
      const poll = withSpan(process, () => startPhaseSpan('poll'));
      assert.equal(sampled(poll), sampled(send), 'children follow their parent');
      // An instrumentation's span under it (an HTTP or Redis call) follows too: never a new root.
      const http = withSpan(poll, () => tracer().startSpan('POST'));
      assert.equal(sampled(http), sampled(send), 'an instrumented call follows its parent');
      assert.equal(http.spanContext().traceId, poll.spanContext().traceId);
      http.end();
      polled.push({ context: poll.spanContext(), kept: sampled(send) });
      poll.end();
      process.end();
      if (sampled(send)) kept++;
    }
    assert.ok(kept > N * 0.35 && kept < N * 0.65, `the ratio still decides at the submit (${kept} of ${N} kept)`);

    const unkept = polled.filter((p) => !p.kept).slice(0, 5);
    const one = polled.find((p) => p.kept)!;
    const request = startBatchSpan('poll sim', unkept);
    assert.equal(sampled(request), false, 'a request for unsampled tasks only is not kept');
    assert.equal(sampled(withSpan(request, () => tracer().startSpan('POST'))), false, 'nor the HTTP call under it (not a new root)');
    assert.equal(sampled(startBatchSpan('poll sim', [...unkept, one])), true, 'a request serving one kept task is kept');
    // The SimpleSpanProcessor exports once the SDK's resource detection settles.
    const exported = (): number => mem.spans().filter((s) => s.name === 'process lane').length;
    for (let i = 0; i < 100 && exported() < kept; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(exported(), kept, 'exactly the kept tasks were exported');
    // A root without links is still the ratio's call (a task submitted without a carrier).
    const roots = Array.from({ length: 200 }, (_, i) => startProcessSpan({ destination: 'lane', group: 'g', consumer: 'w', messageId: '1-0', taskId: `R${i}`, attempt: 1, carrier: {} }));
    const rootsKept = roots.filter(sampled).length;
    assert.ok(rootsKept > 40 && rootsKept < 160, `roots without links: the ratio (${rootsKept} of 200)`);
  } finally {
    await mem.shutdown();
  }
});
