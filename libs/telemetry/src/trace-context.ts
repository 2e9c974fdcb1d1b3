/**
 * Trace context inside stream entries, and the messaging spans around them.
 *
 * The producer's `send <lane>` span is the creation context; its W3C `traceparent`
 * (and `tracestate`) travel as top-level fields of the task entry (never inside the
 * payload), so one trace runs from the HTTP submit through the worker to the result.
 *
 * The worker's `process <lane>` span follows the messaging conventions' default: a new
 * root with a LINK to the creation context (safe for redeliveries and batches). With
 * `parentMode: 'parent'` (env SS_TRACE_PARENT_MODE=parent) it becomes the child of the
 * creation context instead, so Jaeger shows the whole task as one timeline.
 */
import {
  context, INVALID_SPAN_CONTEXT, propagation, ProxyTracerProvider, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace,
  type Attributes, type Context, type Link, type Span, type SpanContext, type Tracer,
} from '@opentelemetry/api';
import * as sc from './semconv';

export const TRACER_NAME = 'solvestream';

export type TraceCarrier = { traceparent?: string; tracestate?: string };
export type ParentMode = 'link' | 'parent';

export const tracer = (): Tracer => trace.getTracer(TRACER_NAME);

/** What a ProxyTracerProvider delegates to while no provider is registered. */
const NO_PROVIDER = new ProxyTracerProvider().getDelegate();
/** The span every start* function returns while tracing is off (non-recording, immutable). */
const OFF_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/**
 * Whether a tracer provider is registered (the SDK started, or a test registered one).
 * While none is, the start* functions below return OFF_SPAN before building their
 * attributes, and withSpan / injectTrace do nothing: the API's no-op tracer would give
 * the same span, but building the attributes first (object spreads per span) was ≈ 3 %
 * of an untraced worker's CPU. A few property reads per call.
 */
function tracingActive(): boolean {
  const p = trace.getTracerProvider();
  return !(p instanceof ProxyTracerProvider) || p.getDelegate() !== NO_PROVIDER;
}

/**
 * `@opentelemetry/core`'s suppression switch, loaded on first use: only while tracing is
 * on (the SDK has loaded it by then), so tracing off never pays its ≈ 20 ms / 3 MB.
 */
let coreModule: typeof import('@opentelemetry/core') | undefined;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const otelCore = (): typeof import('@opentelemetry/core') => (coreModule ??= require('@opentelemetry/core') as typeof import('@opentelemetry/core'));

/**
 * The W3C fields for `ctx` (default: the active context); empty when tracing is off.
 * Also inside a suppressed context (`untraced`): the W3C propagator writes nothing for
 * one, so the suppression is lifted for the injection.
 */
export function injectTrace(ctx?: Context): TraceCarrier {
  if (!tracingActive()) return {};
  const carrier: Record<string, string> = {};
  const from = ctx ?? context.active();
  const core = otelCore();
  propagation.inject(core.isTracingSuppressed(from) ? core.unsuppressTracing(from) : from, carrier);
  const out: TraceCarrier = {};
  if (carrier.traceparent) out.traceparent = carrier.traceparent;
  if (carrier.tracestate) out.tracestate = carrier.tracestate;
  return out;
}

/** The context a carrier names (ROOT_CONTEXT-based; no ambient context leaks in). */
export function extractTrace(carrier: TraceCarrier): Context {
  return propagation.extract(ROOT_CONTEXT, { ...carrier });
}

const messaging = (destination: string, type: string, name: string): Attributes => ({
  [sc.ATTR_MESSAGING_SYSTEM]: sc.MESSAGING_SYSTEM_REDIS,
  [sc.ATTR_MESSAGING_DESTINATION_NAME]: destination,
  [sc.ATTR_MESSAGING_OPERATION_TYPE]: type,
  [sc.ATTR_MESSAGING_OPERATION_NAME]: name,
});

/** `send <destination>` PRODUCER span; its context is what `injectTrace` should carry. */
export function startSendSpan(destination: string, taskId: string, attributes: Attributes = {}): Span {
  if (!tracingActive()) return OFF_SPAN;
  return tracer().startSpan(`send ${destination}`, {
    kind: SpanKind.PRODUCER,
    attributes: { ...messaging(destination, 'send', 'xadd'), [sc.ATTR_MESSAGING_MESSAGE_CONVERSATION_ID]: taskId, ...attributes },
  });
}

export interface ProcessSpanOptions {
  destination: string;
  group: string;
  consumer: string;
  messageId: string;
  taskId: string;
  attempt: number;
  carrier: TraceCarrier;
  parentMode?: ParentMode;
  attributes?: Attributes;
}

/** `process <destination>` CONSUMER span for one delivery (see the module comment). */
export function startProcessSpan(o: ProcessSpanOptions): Span {
  if (!tracingActive()) return OFF_SPAN;
  const created = trace.getSpanContext(extractTrace(o.carrier));
  const attributes: Attributes = {
    ...messaging(o.destination, 'process', 'process'),
    [sc.ATTR_MESSAGING_CONSUMER_GROUP_NAME]: o.group,
    [sc.ATTR_MESSAGING_CLIENT_ID]: o.consumer,
    [sc.ATTR_MESSAGING_MESSAGE_ID]: o.messageId,
    [sc.ATTR_MESSAGING_MESSAGE_CONVERSATION_ID]: o.taskId,
    [sc.ATTR_REDIS_DELIVERY_COUNT]: o.attempt,
    [sc.ATTR_TASK_ID]: o.taskId,
    [sc.ATTR_TASK_ATTEMPT]: o.attempt,
    ...o.attributes,
  };
  if (created && o.parentMode === 'parent') {
    return tracer().startSpan(`process ${o.destination}`, { kind: SpanKind.CONSUMER, attributes }, trace.setSpanContext(ROOT_CONTEXT, created));
  }
  const links: Link[] = created ? [{ context: created, attributes: { [sc.ATTR_MESSAGING_MESSAGE_ID]: o.messageId } }] : [];
  return tracer().startSpan(`process ${o.destination}`, { kind: SpanKind.CONSUMER, attributes, links, root: true });
}

/** Starts an INTERNAL child span of the active context (e.g. the `submit` and `poll` phases). */
export function startPhaseSpan(name: string, attributes: Attributes = {}, links: Link[] = []): Span {
  if (!tracingActive()) return OFF_SPAN;
  return tracer().startSpan(name, { kind: SpanKind.INTERNAL, attributes, links });
}

/**
 * A CLIENT span for one request that serves many tasks at once (a batched provider
 * poll): a new root, since it belongs to no single task, LINKED to every task's span
 * context it serves (the conventions' batch rule: one link per message, per-message
 * attributes on the links). Links are taken from `members` without a context skipped.
 */
export function startBatchSpan(name: string, members: readonly { context?: SpanContext; attributes?: Attributes }[], attributes: Attributes = {}): Span {
  if (!tracingActive()) return OFF_SPAN;
  const links: Link[] = [];
  for (const m of members) if (m.context) links.push({ context: m.context, attributes: m.attributes });
  return tracer().startSpan(name, {
    kind: SpanKind.CLIENT, root: true, links,
    attributes: { [sc.ATTR_POLL_BATCH_SIZE]: members.length, ...attributes },
  });
}

/** Runs `fn` with `span` active, so auto-instrumented calls inside become its children. */
export function withSpan<T>(span: Span, fn: () => T): T {
  if (span === OFF_SPAN) return fn();
  return context.with(trace.setSpan(context.active(), span), fn);
}

/**
 * Commands on `client` make no spans. For a client whose calls serve many callers at once
 * (the worker's command connection: one script call carries the checkpoints or completes
 * of a whole turn, WriteBatch): a call is sent from the async context of whichever caller
 * queued first, so its ioredis span would land under THAT caller's span — in a 5,000-task
 * traced burst (then with auto-pipelining, which did the same per tick), 6,581 of the
 * 6,593 checkpoint and complete spans sat in another task's trace. The callers' own spans time their calls
 * instead (the `submit` phase includes its checkpoint write; `send results` is its call).
 * Each command runs in a suppressed root context: no parent span to file it under, and
 * suppressed whatever the instrumentation's `requireParentSpan` says; the caller's
 * continuation keeps its own context (promises are attached outside `sendCommand`).
 * Decided per command, so it holds whenever tracing starts. Every ioredis path goes
 * through the instance's `sendCommand` (pipelines, script NOSCRIPT resends, the offline
 * queue) except monitor mode, which replaces it; a `duplicate()` is not covered.
 */
export function untracedCommands<C extends { sendCommand(...args: never[]): unknown }>(client: C): C {
  const send = client.sendCommand;
  client.sendCommand = function (this: C, ...args: Parameters<C['sendCommand']>) {
    return untraced(() => send.apply(this, args));
  } as C['sendCommand'];
  return client;
}

/** The root context with the instrumentations suppressed; made once, on first use. */
let suppressedRoot: Context | undefined;

/**
 * Runs `fn` with the auto-instrumentations suppressed and no parent span: for a call
 * made on behalf of many traces at once (the producer's batched submit call, every
 * command of `untracedCommands`), whose ioredis span would land in whichever trace
 * happened to queue first. The callers' own spans time the call instead (the
 * producer's `send <lane>`). Does nothing while tracing is off.
 */
export function untraced<T>(fn: () => T): T {
  if (!tracingActive()) return fn();
  return context.with((suppressedRoot ??= otelCore().suppressTracing(ROOT_CONTEXT)), fn);
}

/** Ends a span with an error status (low-cardinality `error.type`). */
export function endWithError(span: Span, errorType: string, message?: string): void {
  span.setAttribute(sc.ATTR_ERROR_TYPE, errorType);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
  span.end();
}
