/**
 * Our OTLP protobuf encoder against the SDK's: the same bytes for spans of every shape
 * (real spans from the SDK's tracer, plus hand-made ones for the attribute values the
 * SDK's tracer never keeps), and the exporter posting them to a real HTTP receiver.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Tracer } from '@opentelemetry/api';
import { core, resources, tracing } from '@opentelemetry/sdk-node';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { protobufSpanExporter, serializeSpans, spanSerializer } from '../src/otlp-proto';

function sdkBytes(spans: ReadableSpan[]): Buffer {
  return Buffer.from(ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array);
}

/** A provider of its own (one resource each), its spans collected in memory. */
function provider(attributes: Record<string, string>, limits: { attributeCountLimit?: number; eventCountLimit?: number; linkCountLimit?: number } = {}, schemaUrl?: string) {
  const memory = new tracing.InMemorySpanExporter();
  const p = new tracing.BasicTracerProvider({
    resource: resources.resourceFromAttributes(attributes, schemaUrl ? { schemaUrl } : undefined),
    spanProcessors: [new tracing.SimpleSpanProcessor(memory)],
    spanLimits: limits,
  });
  return { tracer: (name: string, version?: string, schemaUrl?: string): Tracer => p.getTracer(name, version, { schemaUrl }), spans: () => memory.getFinishedSpans() };
}

const LONG_ASCII = 'https://shop.example.com/login?n=1&ref=' + 'x'.repeat(200);
const LONG_UTF8 = 'Ünïcödé ✓ 验证码 ' + 'é'.repeat(100) + ' 🧩';

function manySpans(): ReadableSpan[] {
  const a = provider({ 'service.name': 'producer', 'service.instance.id': 'ünï-1' }, {}, 'https://opentelemetry.io/schemas/1.28.0');
  const b = provider({ 'service.name': 'worker' }, { attributeCountLimit: 3, eventCountLimit: 1, linkCountLimit: 1 });
  const t1 = a.tracer('solvestream', '1.2.3', 'https://opentelemetry.io/schemas/1.30.0');
  const t2 = a.tracer('@opentelemetry/instrumentation-http');
  const t3 = b.tracer('solvestream');

  const remote = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED, isRemote: true,
    traceState: new core.TraceState('vendor=abc,other=1'),
  });
  const kinds = [SpanKind.INTERNAL, SpanKind.SERVER, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER];
  for (const [i, kind] of kinds.entries()) {
    const parent = t1.startSpan(`parent ${i}`, { kind, root: true });
    const child = t1.startSpan(`process tasks:normal ${i}`, {
      kind,
      attributes: {
        'messaging.system': 'redis', 'task.id': `T${i}-${'abc'.repeat(i)}`, empty: '', long: LONG_ASCII, utf8: LONG_UTF8,
        short_utf8: 'é', lone: 'a\ud800b', bool: i % 2 === 0, zero: 0, minus: -1, b127: 127, b128: 128, i31: 2 ** 31, i32: 2 ** 32,
        big: Number.MAX_SAFE_INTEGER, negative_big: -(2 ** 40), half: 1.5, tiny: 1e-300, inf: Infinity,
        strings: ['a', LONG_UTF8, ''], numbers: [1, 2.5, -3], flags: [true, false],
      },
      links: [{ context: trace.getSpanContext(remote)!, attributes: { 'messaging.message.id': `1-${i}` } }, { context: parent.spanContext() }],
    }, trace.setSpan(ROOT_CONTEXT, parent));
    child.addEvent('checkpoint', { provider: 'captchaai', attempt: i });
    child.addEvent('no attributes');
    child.setStatus(i === 2 ? { code: SpanStatusCode.ERROR, message: 'ERROR_CAPTCHA_UNSOLVABLE: ✗' } : { code: i === 3 ? SpanStatusCode.OK : SpanStatusCode.UNSET });
    child.end();
    parent.end();
  }
  // A remote parent (isRemote, traceState on the span), another scope of the same resource.
  context.with(remote, () => t2.startSpan('POST /v1/tasks', { kind: SpanKind.SERVER }, remote).end());
  // Limits: dropped attributes, events and links are counted.
  const limited = t3.startSpan('limited', { attributes: { a: 1, b: 2, c: 3, d: 4, e: 5 }, links: [{ context: trace.getSpanContext(remote)! }, { context: trace.getSpanContext(remote)! }] });
  limited.addEvent('one');
  limited.addEvent('two');
  limited.end();
  // Big spans: lengths that need two and three bytes.
  t1.startSpan('big', { attributes: { blob: 'y'.repeat(300), huge: 'z'.repeat(20_000) } }).end();
  return [...a.spans(), ...b.spans()];
}

test('our protobuf encoding of SDK spans of every shape is byte for byte the SDK serializer’s', () => {
  const spans = manySpans();
  assert.ok(spans.length >= 13);
  const ours = Buffer.from(serializeSpans(spans));
  assert.ok(ours.equals(sdkBytes(spans)), `encodings differ (ours ${ours.length} bytes, SDK ${sdkBytes(spans).length})`);
  // A tiny first buffer: every growth path on the way.
  assert.ok(Buffer.from(serializeSpans(spans, 16)).equals(ours));
  // Interleaved resources and scopes are grouped by identity in order of appearance, as the SDK does.
  const shuffled = [...spans].reverse();
  assert.ok(Buffer.from(serializeSpans(shuffled)).equals(sdkBytes(shuffled)));
  assert.ok(Buffer.from(serializeSpans([])).equals(sdkBytes([])));
});

test('a batch past 2 MB (four-byte lengths on the resource and scope) matches, and so do the attribute values the SDK tracer drops', () => {
  const p = provider({ 'service.name': 'worker' });
  const t = p.tracer('solvestream');
  for (let i = 0; i < 3000; i++) t.startSpan(`poll ${i}`, { attributes: { 'task.id': `task-${i}`, pad: 'p'.repeat(700) } }).end();
  const spans = p.spans();
  const ours = Buffer.from(serializeSpans(spans));
  assert.ok(ours.length > 2 ** 21);
  assert.ok(ours.equals(sdkBytes(spans)));

  // Bytes and key-value lists (other exporters' instrumentations can set them), NaN,
  // null and empty values, ids that are not hex (ASCII, above U+00FF), of odd length or
  // upper case, a name that is not a string, and a scope with attributes: made by hand.
  const base = spans[0] as ReadableSpan;
  const odd: ReadableSpan = {
    ...base,
    name: 42 as never,
    spanContext: () => ({ traceId: 'zz'.repeat(16), spanId: '0123456789ABCDEF', traceFlags: 0 }),
    attributes: {
      bytes: new Uint8Array([0, 1, 255]) as never, none: new Uint8Array(0) as never, nested: { k: 'v', n: 2, deeper: { ok: true }, list: ['x', 1], nothing: null } as never,
      empty_list: [], empty_kv: {} as never, nan: NaN, neg: -(2 ** 63), over: 2 ** 63, nul: null as never, undef: undefined,
      surrogates: 'x'.repeat(60) + '\ud800' + 'é'.repeat(10) + '\udfff',
    },
    links: [
      { context: { traceId: 'İ'.repeat(32), spanId: '\u0661'.repeat(16), traceFlags: 1 } },
      { context: { traceId: 'abc'.repeat(11), spanId: '0123456789abcde', traceFlags: 1 } },
    ],
    instrumentationScope: { name: 'scoped', version: 7 as never, attributes: { 'scope.attr': 'yes' }, droppedAttributesCount: 2 } as ReadableSpan['instrumentationScope'],
    events: [],
  };
  assert.ok(Buffer.from(serializeSpans([odd, base])).equals(sdkBytes([odd, base])));

  // Every string length up to 5,000, ASCII and not, from first buffers of 1 and 2 KB: the
  // buffer grows inside a string, an id and a length that has to move its field.
  const one = (p.spans()[0] as ReadableSpan);
  for (let length = 0; length <= 5000; length++) {
    for (const ch of ['x', 'é']) {
      const s = [{ ...one, spanContext: () => one.spanContext(), name: ch.repeat(length % 60), attributes: { k: ch.repeat(length) } }];
      const expected = sdkBytes(s);
      for (const hint of [1024, 2048]) assert.ok(Buffer.from(serializeSpans(s, hint)).equals(expected), `length ${length} of ${ch}, first buffer ${hint}`);
    }
  }
});

test('the serializer sizes each request by the one before and decodes responses as the SDK does', () => {
  const s = spanSerializer();
  const spans = manySpans();
  const first = Buffer.from(s.serializeRequest(spans) as Uint8Array);
  const second = Buffer.from(s.serializeRequest(spans) as Uint8Array);
  assert.ok(first.equals(second) && first.equals(sdkBytes(spans)));
  assert.deepEqual(s.deserializeResponse(new Uint8Array(0)), ProtobufTraceSerializer.deserializeResponse(new Uint8Array(0)));
});

test('the exporter posts our bytes as application/x-protobuf to the standard endpoint variable', async () => {
  const bodies: { type: string | undefined; path: string | undefined; body: Buffer }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push({ type: req.headers['content-type'], path: req.url, body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const saved = process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
  try {
    const exporter = protobufSpanExporter();
    const spans = manySpans();
    const result = await new Promise<{ code: number; error?: Error }>((r) => exporter.export(spans, r));
    assert.equal(result.code, core.ExportResultCode.SUCCESS, String(result.error));
    await exporter.shutdown();
    assert.equal(bodies.length, 1);
    assert.equal(bodies[0]?.type, 'application/x-protobuf');
    assert.equal(bodies[0]?.path, '/v1/traces');
    assert.ok(bodies[0]?.body.equals(sdkBytes(spans)));
  } finally {
    if (saved === undefined) delete process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
    else process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = saved;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
