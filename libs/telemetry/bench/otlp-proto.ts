/**
 * OTLP protobuf encoding benchmark: our encoder (src/otlp-proto.ts) against the SDK's
 * `ProtobufTraceSerializer` (and, for the choice of protocol, its `JsonTraceSerializer`), on export batches shaped like the worker's (per task: the
 * `process` span linked to its submit, the `submit` phase, its HTTP POST, the `poll`
 * phase, `send results`; per 50 tasks one batched poll request linked to all 50). Printed,
 * never asserted: µs of CPU per span and bytes per span for each, the ratio, each figure
 * the median of BENCH_ROUNDS rounds (default 7) that alternate between them.
 *
 *   npm run bench -w @solvestream/telemetry      BENCH_BATCHES=40 (batches of 2,048 spans per round)
 */
import { cpus, loadavg } from 'node:os';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Link } from '@opentelemetry/api';
import { resources, tracing } from '@opentelemetry/sdk-node';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { serializeSpans } from '../src/otlp-proto';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const BATCHES = Number(process.env.BENCH_BATCHES ?? 40);
const BATCH = 2048;

function workerSpans(): ReadableSpan[] {
  const memory = new tracing.InMemorySpanExporter();
  const provider = new tracing.BasicTracerProvider({
    resource: resources.resourceFromAttributes({ 'service.name': 'worker', 'service.version': '0.1.0', 'service.instance.id': 'worker-7f9c2' }),
    spanProcessors: [new tracing.SimpleSpanProcessor(memory)],
  });
  const t = provider.getTracer('solvestream', '0.1.0');
  const http = provider.getTracer('@opentelemetry/instrumentation-undici', '0.23.0');
  let links: Link[] = [];
  for (let i = 0; memory.getFinishedSpans().length < BATCH; i++) {
    const taskId = `V1StGXR8_Z5jdHi6B-myT${i}`;
    const submit = { traceId: (i + 1).toString(16).padStart(32, 'a'), spanId: (i + 1).toString(16).padStart(16, 'b'), traceFlags: TraceFlags.SAMPLED, isRemote: true };
    const process = t.startSpan('process tasks:normal', {
      kind: SpanKind.CONSUMER, root: true,
      links: [{ context: submit, attributes: { 'messaging.message.id': `1796653435977-${i}` } }],
      attributes: {
        'messaging.system': 'redis', 'messaging.operation.type': 'process', 'messaging.operation.name': 'process',
        'messaging.destination.name': 'ss:{p0}:tasks:normal', 'messaging.consumer.group.name': 'workers',
        'messaging.client.id': 'worker-7f9c2', 'messaging.message.id': `1796653435977-${i}`,
        'messaging.message.conversation_id': taskId, 'solvestream.task.id': taskId, 'solvestream.task.attempt': 1,
      },
    });
    const inTask = trace.setSpan(ROOT_CONTEXT, process);
    const phase = t.startSpan('submit', { attributes: { 'solvestream.provider': 'captchaai', 'solvestream.task.type': 'recaptcha_v2' } }, inTask);
    http.startSpan('POST', {
      kind: SpanKind.CLIENT,
      attributes: { 'http.request.method': 'POST', 'url.full': 'https://ocr.captchaai.com/in.php', 'server.address': 'ocr.captchaai.com', 'server.port': 443, 'http.response.status_code': 200 },
    }, trace.setSpan(ROOT_CONTEXT, phase)).end();
    phase.end();
    t.startSpan('poll', { attributes: { 'solvestream.provider.task_id': `7${i}0123456` } }, inTask).end();
    t.startSpan('send ss:{p0}:results', { kind: SpanKind.PRODUCER, attributes: { 'messaging.system': 'redis', 'messaging.operation.type': 'send' } }, inTask).end();
    process.setStatus({ code: SpanStatusCode.OK });
    process.end();
    links.push({ context: process.spanContext(), attributes: { 'solvestream.task.id': taskId } });
    if (links.length === 50) {
      t.startSpan('GET res.php', { kind: SpanKind.CLIENT, root: true, links, attributes: { 'solvestream.poll.batch_size': 50 } }).end();
      links = [];
    }
  }
  return memory.getFinishedSpans().slice(0, BATCH);
}

function cpuUs(fn: () => void): number {
  const start = process.cpuUsage();
  fn();
  const d = process.cpuUsage(start);
  return d.user + d.system;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const spans = workerSpans();
const sdk = (): void => { for (let b = 0; b < BATCHES; b++) ProtobufTraceSerializer.serializeRequest(spans); };
const ours = (): void => { for (let b = 0; b < BATCHES; b++) serializeSpans(spans, 1_000_000); };
const json = (): void => { for (let b = 0; b < BATCHES; b++) JsonTraceSerializer.serializeRequest(spans); };
const jsonBytes = (JsonTraceSerializer.serializeRequest(spans) as Uint8Array).length;
const bytes = serializeSpans(spans).length;
if (!Buffer.from(serializeSpans(spans)).equals(Buffer.from(ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array))) {
  throw new Error('the encodings differ: the benchmark would compare different work');
}
sdk(); ours(); json(); // warm-up (JIT)
const a: number[] = [];
const b: number[] = [];
const c: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  a.push(cpuUs(sdk) / (BATCHES * BATCH));
  b.push(cpuUs(ours) / (BATCHES * BATCH));
  c.push(cpuUs(json) / (BATCHES * BATCH));
}
const perSpan = (x: number): string => `${x.toFixed(2)} µs`;
process.stdout.write(
  `OTLP protobuf encoding, ${BATCHES} × ${BATCH} worker-shaped spans per round (${(bytes / BATCH).toFixed(0)} bytes per span), median of ${ROUNDS} rounds; ` +
  `${cpus().length} cores, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n` +
  `  SDK ProtobufTraceSerializer: ${perSpan(median(a))} CPU per span (rounds ${a.map((x) => x.toFixed(2)).join(' / ')})\n` +
  `  ours (otlp-proto.ts):        ${perSpan(median(b))} CPU per span (rounds ${b.map((x) => x.toFixed(2)).join(' / ')})\n` +
  `  ratio: ${(median(a) / median(b)).toFixed(2)}× less CPU per span (median of per-round ratios ${median(a.map((x, i) => x / (b[i] ?? NaN))).toFixed(2)}×)\n` +
  `  SDK JsonTraceSerializer (http/json): ${perSpan(median(c))} CPU per span, ${(jsonBytes / BATCH).toFixed(0)} bytes per span (rounds ${c.map((x) => x.toFixed(2)).join(' / ')}): ${(median(c) / median(b)).toFixed(2)}× ours\n`,
);
