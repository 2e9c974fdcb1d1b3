import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trace } from '@opentelemetry/api';
import { Registry } from 'prom-client';
import { registerSpanMetrics, startTelemetry } from '../src';
import { startOtlpJsonReceiver } from './otlp-json-receiver';

// Its own file (its own process): it starts the SDK with a small queue on purpose.
test('spans the queue cannot hold and spans of a refused or timed-out export are counted, not silently lost', async () => {
  const receiver = await startOtlpJsonReceiver({ delayMs: 200, first: ['refuse', 'stall'] });
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
  process.env.OTEL_EXPORTER_OTLP_TIMEOUT = '500'; // the exporter gives up on the stalled request
  const h = startTelemetry({ serviceName: 'span-drops-test', export: { protocol: 'http/json', maxQueueSize: '500', maxExportBatchSize: '100' } });
  try {
    const tracer = trace.getTracer('burst');
    const n = 2_000;
    for (let i = 0; i < n; i++) tracer.startSpan('span').end();
    await h.shutdown();
    const c = h.spanCounts();
    assert.ok(c, 'counts while exporting');
    assert.equal(c.failed, 200, 'the refused and the stalled request held one batch each');
    assert.ok(c.dropped > 0, 'a queue of 500 cannot hold a burst of 2,000');
    assert.equal(c.exported, receiver.spans, 'exported = what the collector accepted');
    assert.equal(c.exported + c.dropped + c.failed, n, `every span accounted for: ${JSON.stringify(c)}`);
    const registry = new Registry();
    registerSpanMetrics(registry, () => h.spanCounts());
    const text = await registry.metrics();
    assert.match(text, new RegExp(`solvestream_trace_spans_total\\{outcome="dropped"\\} ${c.dropped}\\b`));
    assert.match(text, /solvestream_trace_spans_total\{outcome="failed"\} 200\b/);
  } finally {
    await h.shutdown();
    await receiver.close();
  }
});
