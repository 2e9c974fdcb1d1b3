import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { core, tracing } from '@opentelemetry/sdk-node';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { injectTrace, startProcessSpan, startSendSpan, withSpan, tracingEnabled } from '../src';

const exporter = new tracing.InMemorySpanExporter();
const provider = new tracing.BasicTracerProvider({ spanProcessors: [new tracing.SimpleSpanProcessor(exporter)] });
before(() => {
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(new core.W3CTraceContextPropagator());
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
});
after(() => provider.shutdown());

test('the send span context travels in the entry; process links to it (default) or is its child', () => {
  const send = startSendSpan('ss:{p0}:tasks:normal', 'T1');
  const carrier = withSpan(send, () => injectTrace());
  send.end();
  assert.match(carrier.traceparent ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);

  const common = { destination: 'ss:{p0}:tasks:normal', group: 'workers', consumer: 'w1', messageId: '1-0', taskId: 'T1', attempt: 1, carrier };
  startProcessSpan(common).end();
  startProcessSpan({ ...common, parentMode: 'parent' }).end();
  const [s, linked, child] = exporter.getFinishedSpans();
  assert.equal(s!.name, 'send ss:{p0}:tasks:normal');
  assert.equal(s!.kind, SpanKind.PRODUCER);
  assert.equal(linked!.name, 'process ss:{p0}:tasks:normal');
  assert.equal(linked!.kind, SpanKind.CONSUMER);
  assert.equal(linked!.parentSpanContext, undefined, 'link mode: a new root');
  assert.equal(linked!.links[0]?.context.spanId, s!.spanContext().spanId);
  assert.equal(linked!.attributes['messaging.consumer.group.name'], 'workers');
  assert.equal(child!.spanContext().traceId, s!.spanContext().traceId, 'parent mode: one trace');
  assert.equal(child!.parentSpanContext?.spanId, s!.spanContext().spanId);
});

test('no carrier: the process span is a plain root without links', () => {
  exporter.reset();
  startProcessSpan({ destination: 'd', group: 'g', consumer: 'c', messageId: '1-0', taskId: 'T', attempt: 2, carrier: {} }).end();
  const [span] = exporter.getFinishedSpans();
  assert.equal(span!.links.length, 0);
  assert.equal(span!.attributes['messaging.redis.message.delivery_count'], 2);
});

test('tracing is on when an OTLP endpoint is configured, and can be forced either way', () => {
  assert.equal(tracingEnabled({}), false);
  assert.equal(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' }), true);
  assert.equal(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://j:4318', SS_TRACING: 'off' }), false);
  assert.equal(tracingEnabled({ SS_TRACING: 'on' }), true);
  assert.equal(tracingEnabled({ SS_TRACING: 'on', OTEL_SDK_DISABLED: 'true' }), false);
  assert.equal(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://j:4318', OTEL_TRACES_EXPORTER: 'none' }), false, 'the standard "no exporter"');
});
