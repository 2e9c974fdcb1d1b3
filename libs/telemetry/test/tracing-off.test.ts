import { test } from 'node:test';
import assert from 'node:assert/strict';
import { context, propagation, trace } from '@opentelemetry/api';
import { core, tracing } from '@opentelemetry/sdk-node';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { injectTrace, startBatchSpan, startPhaseSpan, startProcessSpan, startSendSpan, withSpan } from '../src';

// Its own file (its own process): it needs a process where no tracer provider is registered yet.
test('with no tracer provider every span is non-recording and nothing is injected; registering one turns them on', () => {
  const process = () => startProcessSpan({ destination: 'd', group: 'g', consumer: 'c', messageId: '1-0', taskId: 'T', attempt: 1, carrier: {} });
  const off = [startSendSpan('d', 'T'), process(), startPhaseSpan('submit'), startBatchSpan('poll', [])];
  for (const span of off) assert.equal(span.isRecording(), false);
  assert.ok(off.every((s) => s === off[0]), 'one shared span, returned before any attributes are built');
  assert.equal(withSpan(off[0]!, () => 42), 42, 'withSpan still runs the function');
  assert.deepEqual(withSpan(off[0]!, () => injectTrace()), {});

  const exporter = new tracing.InMemorySpanExporter();
  const provider = new tracing.BasicTracerProvider({ spanProcessors: [new tracing.SimpleSpanProcessor(exporter)] });
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(new core.W3CTraceContextPropagator());
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const send = startSendSpan('d', 'T');
  assert.equal(send.isRecording(), true);
  assert.match(withSpan(send, () => injectTrace()).traceparent ?? '', /^00-/);
  send.end();
  process().end();
  assert.deepEqual(exporter.getFinishedSpans().map((s) => s.name), ['send d', 'process d']);
});
