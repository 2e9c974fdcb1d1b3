import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trace } from '@opentelemetry/api';
import { Registry } from 'prom-client';
import { registerSpanMetrics, startTelemetry } from '../src';
import { buildSpanExport } from '../src/span-export';
import { startOtlpJsonReceiver } from './otlp-json-receiver';

test('the export settings: bad values stop start-up naming the variable', () => {
  assert.throws(() => buildSpanExport({ maxQueueSize: 'lots' }), /OTEL_BSP_MAX_QUEUE_SIZE must be a whole number of at least 1, got "lots"/);
  assert.throws(() => buildSpanExport({ maxQueueSize: '100', maxExportBatchSize: '500' }), /OTEL_BSP_MAX_EXPORT_BATCH_SIZE \(500\) must not exceed OTEL_BSP_MAX_QUEUE_SIZE \(100\)/);
  assert.throws(() => buildSpanExport({ exportTimeoutMs: '0' }), /OTEL_BSP_EXPORT_TIMEOUT/);
  assert.throws(() => buildSpanExport({ exporter: 'zipkin' }), /OTEL_TRACES_EXPORTER "zipkin" is not one of otlp, console/);
  assert.throws(() => buildSpanExport({ protocol: 'carrier-pigeon' }), /OTEL_EXPORTER_OTLP_PROTOCOL \(or _TRACES_PROTOCOL\) "carrier-pigeon"/);
  assert.ok(buildSpanExport({ protocol: 'grpc' }).processor, 'grpc builds');
  assert.ok(buildSpanExport({ maxQueueSize: '100' }).processor, 'a small queue takes a batch of its own size');
});

// Its own file (its own process): it starts the SDK. The SDK's default queue (2,048 spans,
// one export of 512 at a time) dropped most of such a burst: with `maxQueueSize: '2048',
// maxExportBatchSize: '512'` passed below, this test fails.
test('a burst of 8,000 spans against a slow collector arrives whole with the default queue, and the counts say so', async () => {
  const receiver = await startOtlpJsonReceiver({ delayMs: 300 });
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
  const h = startTelemetry({ serviceName: 'span-export-test', export: { protocol: 'http/json' } });
  try {
    const tracer = trace.getTracer('burst');
    const n = 8_000;
    for (let i = 0; i < n; i++) tracer.startSpan(`span ${i % 10}`, { attributes: { 'solvestream.task.id': String(i) } }).end();
    await h.shutdown(); // flushes what is queued
    assert.equal(receiver.spans, n, `every span reached the collector (requests: ${receiver.requests})`);
    assert.deepEqual(h.spanCounts(), { exported: n, dropped: 0, failed: 0 });
    const registry = new Registry();
    registerSpanMetrics(registry, () => h.spanCounts());
    const text = await registry.metrics();
    assert.match(text, /solvestream_trace_spans_total\{outcome="exported"\} 8000/);
    assert.match(text, /solvestream_trace_spans_total\{outcome="dropped"\} 0/);
  } finally {
    await h.shutdown();
    await receiver.close();
  }
});
