/**
 * OTLP/HTTP protobuf export of spans with our own encoder: the bytes are exactly those of
 * `@opentelemetry/otlp-transformer`'s `ProtobufTraceSerializer` (0.223; a test compares
 * them field for field on spans of every shape), made with a fraction of its CPU.
 *
 * Why: with every task traced, that serializer was a quarter of the worker's CPU (25 % of
 * a `--cpu-prof` profile at burst: a JavaScript loop per character of every string and
 * every hex id, run twice — once to estimate the size, once to write — and a Uint8Array
 * allocated per id each time). This encoder makes one pass into a growing Buffer, writes
 * long or non-ASCII strings and the ids with Buffer's native UTF-8 and hex writers, and
 * short ASCII strings (most attribute keys) in one JavaScript loop with no check pass.
 * The numbers are in docs/benchmarks.md.
 *
 * Contract: `serializeSpans(spans)` equals `ProtobufTraceSerializer.serializeRequest(spans)`
 * byte for byte; the response is decoded by the SDK's own deserializer. Everything else
 * of the exporter (endpoint, headers, timeout, compression, retries from the standard
 * variables) is the SDK's `createOtlpHttpExportDelegate`, as `OTLPTraceExporter` uses it.
 */
import type { HrTime, Link, SpanContext } from '@opentelemetry/api';
import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from '@opentelemetry/otlp-exporter-base/node-http';
import { ProtobufTraceSerializer, TraceExporterMetricsHelper, type ISerializer, type IExportTraceServiceResponse } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan, SpanExporter, TimedEvent } from '@opentelemetry/sdk-trace';

/** Strings up to this many UTF-16 units are written by the JavaScript loop when ASCII. */
const SHORT_STRING = 48;

/** A protobuf writer over a growing Buffer. Length-delimited fields reserve one byte for their length and shift when it needs more (as the SDK's writer does, so the bytes match). */
class Writer {
  buf: Buffer;
  pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(Math.max(size, 1024));
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  /** A varint of a non-negative integer, or of a negative one as its 64-bit two's complement (10 bytes). */
  varint(value: number): void {
    this.ensure(10);
    const b = this.buf;
    if (value >= 0 && value <= 0xffffffff) {
      let v = value >>> 0;
      while (v > 0x7f) {
        b[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      b[this.pos++] = v;
      return;
    }
    let low: number;
    let high: number;
    if (value >= 0) {
      low = value >>> 0;
      high = (value / 0x100000000) >>> 0;
    } else {
      const abs = Math.abs(value);
      low = ~(abs >>> 0) >>> 0;
      high = ~((abs / 0x100000000) >>> 0) >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    while (high > 0 || low > 0x7f) {
      b[this.pos++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    b[this.pos++] = low & 0x7f;
  }

  fixed32(value: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(value >>> 0, this.pos);
    this.pos += 4;
  }

  fixed64(low: number, high: number): void {
    this.ensure(8);
    this.buf.writeUInt32LE(low >>> 0, this.pos);
    this.buf.writeUInt32LE(high >>> 0, this.pos + 4);
    this.pos += 8;
  }

  double(value: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  bytes(bytes: Uint8Array): void {
    this.varint(bytes.length);
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /**
   * A trace or span id given in hex, as bytes. Buffer's hex decoder is used only on ASCII
   * (its byte length is its length): there it stops at a character that is not hex (and
   * the SDK's conversion takes over), while above U+00FF it would read the low byte where
   * the SDK's converter maps every character; a link's context is not checked by the tracer.
   */
  hexId(hex: string): void {
    const n = hex.length >>> 1;
    this.varint(n);
    this.ensure(n);
    if (Buffer.byteLength(hex, 'utf8') === hex.length && this.buf.write(hex, this.pos, n, 'hex') === n) this.pos += n;
    else for (let i = 0; i < n; i++) this.buf[this.pos++] = (hexDigit(hex.charCodeAt(2 * i)) << 4) | hexDigit(hex.charCodeAt(2 * i + 1));
  }

  string(s: string): void {
    // Not a string (a JavaScript caller's span name or tracer version): the SDK's writer
    // encodes a value without a length as the empty string; so do we, instead of throwing
    // and losing the whole batch.
    if (typeof s !== 'string') {
      this.varint(0);
      return;
    }
    const n = s.length;
    if (n <= SHORT_STRING) {
      this.ensure(n + 1);
      const b = this.buf;
      const start = this.pos;
      let p = start + 1;
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c > 0x7f) return this.nativeString(s);
        b[p++] = c;
      }
      b[start] = n; // n < 128: a one-byte varint
      this.pos = p;
      return;
    }
    this.nativeString(s);
  }

  private nativeString(s: string): void {
    // Lone surrogates become U+FFFD here as in TextEncoder, so the lengths agree.
    const len = Buffer.byteLength(s, 'utf8');
    const start = this.pos;
    this.varint(len);
    this.ensure(len);
    if (this.buf.write(s, this.pos, len, 'utf8') === len) {
      this.pos += len;
      return;
    }
    // Never seen (Node's byteLength and write agree, lone surrogates included); if a
    // runtime ever disagreed, no byte of the buffer's old content may go out.
    this.pos = start;
    this.bytes(new TextEncoder().encode(s));
  }

  /** Reserves the length byte of a length-delimited field; returns where it is. */
  open(): number {
    this.ensure(1);
    return this.pos++;
  }

  /** Writes the length of the field opened at `at`, moving its content when the length takes more than one byte. */
  close(at: number): void {
    const length = this.pos - at - 1;
    if (length < 0x80) {
      this.buf[at] = length;
      return;
    }
    let size = 2;
    for (let v = length >>> 14; v > 0; v >>>= 7) size++;
    this.ensure(size - 1);
    this.buf.copy(this.buf, at + size, at + 1, this.pos);
    this.pos += size - 1;
    let v = length;
    let p = at;
    while (v > 0x7f) {
      this.buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[p] = v;
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  return c - 55;
}

/** Nanoseconds since the epoch as fixed64, without leaving exact double arithmetic (the SDK's method). */
function hrTime(w: Writer, t: HrTime): void {
  const seconds = t[0];
  const nanos = t[1];
  const lowerNanos = (seconds & 0xffff) * 1e9;
  const upperNanos = ((seconds / 0x10000) >>> 0) * 1e9;
  const low = (lowerNanos >>> 0) + (((upperNanos & 0xffff) * 0x10000) >>> 0) + nanos;
  const high = Math.floor(lowerNanos / 0x100000000) + ((upperNanos / 0x10000) >>> 0) + Math.floor(low / 0x100000000);
  w.fixed64(low >>> 0, high >>> 0);
}

const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;

function anyValue(w: Writer, value: unknown): void {
  const t = typeof value;
  if (t === 'string') {
    w.tag(1, 2);
    w.string(value as string);
  } else if (t === 'boolean') {
    w.tag(2, 0);
    w.varint(value ? 1 : 0);
  } else if (t === 'number') {
    const n = value as number;
    if (Number.isInteger(n) && n >= MIN_INT64 && n < MAX_INT64) {
      w.tag(3, 0);
      w.varint(n);
    } else {
      w.tag(4, 1);
      w.double(n);
    }
  } else if (value instanceof Uint8Array) {
    w.tag(7, 2);
    w.bytes(value);
  } else if (Array.isArray(value)) {
    w.tag(5, 2);
    const array = w.open();
    for (const item of value) {
      w.tag(1, 2);
      const at = w.open();
      anyValue(w, item);
      w.close(at);
    }
    w.close(array);
  } else if (t === 'object' && value !== null) {
    // A KeyValueList is a list of KeyValue in its field 1, as attributes are.
    w.tag(6, 2);
    const list = w.open();
    attributes(w, value as Record<string, unknown>, 1);
    w.close(list);
  }
}

function keyValue(w: Writer, key: string, value: unknown): void {
  w.tag(1, 2);
  w.string(key);
  w.tag(2, 2);
  const at = w.open();
  anyValue(w, value);
  w.close(at);
}

function attributes(w: Writer, attrs: Record<string, unknown> | undefined, field: number): void {
  if (!attrs) return;
  for (const key in attrs) {
    if (!Object.prototype.hasOwnProperty.call(attrs, key)) continue;
    w.tag(field, 2);
    const at = w.open();
    keyValue(w, key, attrs[key]);
    w.close(at);
  }
}

function spanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 0xff) | 0x100 | (isRemote ? 0x200 : 0);
}

function event(w: Writer, e: TimedEvent): void {
  const at = w.open();
  w.tag(1, 1);
  hrTime(w, e.time);
  w.tag(2, 2);
  w.string(e.name);
  attributes(w, e.attributes, 3);
  w.tag(4, 0);
  w.varint(e.droppedAttributesCount || 0);
  w.close(at);
}

/** Fields 1–3 of a Span and of a Link alike: trace_id, span_id, trace_state (when set). */
function contextFields(w: Writer, c: SpanContext): void {
  w.tag(1, 2);
  w.hexId(c.traceId);
  w.tag(2, 2);
  w.hexId(c.spanId);
  const state = c.traceState?.serialize();
  if (state) {
    w.tag(3, 2);
    w.string(state);
  }
}

function link(w: Writer, l: Link): void {
  const at = w.open();
  const c = l.context;
  contextFields(w, c);
  attributes(w, l.attributes, 4);
  w.tag(5, 0);
  w.varint(l.droppedAttributesCount || 0);
  w.tag(6, 5);
  w.fixed32(spanFlags(c.traceFlags, c.isRemote));
  w.close(at);
}

function span(w: Writer, s: ReadableSpan): void {
  const at = w.open();
  const ctx = s.spanContext();
  contextFields(w, ctx);
  const parent = s.parentSpanContext;
  if (parent?.spanId) {
    w.tag(4, 2);
    w.hexId(parent.spanId);
  }
  w.tag(5, 2);
  w.string(s.name);
  // The API's kinds start at 0 (INTERNAL); the protocol's at 1 (0 = unspecified).
  const kind = (s.kind as number | undefined) == null ? 0 : s.kind + 1;
  if (kind !== 0) {
    w.tag(6, 0);
    w.varint(kind);
  }
  w.tag(7, 1);
  hrTime(w, s.startTime);
  w.tag(8, 1);
  hrTime(w, s.endTime);
  attributes(w, s.attributes, 9);
  w.tag(10, 0);
  w.varint(s.droppedAttributesCount);
  for (const e of s.events) {
    w.tag(11, 2);
    event(w, e);
  }
  w.tag(12, 0);
  w.varint(s.droppedEventsCount);
  for (const l of s.links) {
    w.tag(13, 2);
    link(w, l);
  }
  w.tag(14, 0);
  w.varint(s.droppedLinksCount);
  w.tag(15, 2);
  const status = w.open();
  if (s.status.message) {
    w.tag(2, 2);
    w.string(s.status.message);
  }
  w.tag(3, 0);
  w.varint(s.status.code);
  w.close(status);
  w.tag(16, 5);
  w.fixed32(spanFlags(ctx.traceFlags, parent?.isRemote));
  w.close(at);
}

/**
 * An ExportTraceServiceRequest of `spans`, grouped by resource and then scope (by
 * identity, in order of appearance). `sizeHint`: the buffer to start with, bytes (it
 * doubles as needed).
 */
export function serializeSpans(spans: readonly ReadableSpan[], sizeHint = 64 * 1024): Uint8Array {
  const resources = new Map<ReadableSpan['resource'], Map<ReadableSpan['instrumentationScope'], ReadableSpan[]>>();
  for (const s of spans) {
    let scopes = resources.get(s.resource);
    if (!scopes) resources.set(s.resource, (scopes = new Map()));
    let list = scopes.get(s.instrumentationScope);
    if (!list) scopes.set(s.instrumentationScope, (list = []));
    list.push(s);
  }
  const w = new Writer(sizeHint);
  for (const [resource, scopes] of resources) {
    w.tag(1, 2);
    const rs = w.open();
    w.tag(1, 2);
    const r = w.open();
    attributes(w, resource.attributes as Record<string, unknown>, 1);
    w.tag(2, 0);
    w.varint(0);
    w.close(r);
    for (const list of scopes.values()) {
      const scope = (list[0] as ReadableSpan).instrumentationScope;
      w.tag(2, 2);
      const ss = w.open();
      w.tag(1, 2);
      const sc = w.open();
      w.tag(1, 2);
      w.string(scope.name);
      if (scope.version) {
        w.tag(2, 2);
        w.string(scope.version);
      }
      // Newer scopes may carry attributes; the SDK's serializer writes them when present.
      const extra = scope as { attributes?: Record<string, unknown>; droppedAttributesCount?: number };
      attributes(w, extra.attributes, 3);
      if (extra.droppedAttributesCount) {
        w.tag(4, 0);
        w.varint(extra.droppedAttributesCount);
      }
      w.close(sc);
      for (const s of list) {
        w.tag(2, 2);
        span(w, s);
      }
      if (scope.schemaUrl) {
        w.tag(3, 2);
        w.string(scope.schemaUrl);
      }
      w.close(ss);
    }
    if (resource.schemaUrl) {
      w.tag(3, 2);
      w.string(resource.schemaUrl);
    }
    w.close(rs);
  }
  return w.finish();
}

/** The largest first buffer a request starts with, bytes (a full default batch of 2,048 spans is ≈ 0.6–1 MB). */
const MAX_SIZE_HINT = 4 * 1024 * 1024;

/**
 * The SDK's serializer interface: our request encoding, the SDK's response decoding.
 * Each request starts with a buffer the size of the one before (a batch is usually the
 * size of the last), so a steady exporter grows none.
 */
export function spanSerializer(): ISerializer<ReadableSpan[], IExportTraceServiceResponse> {
  let lastSize = 64 * 1024;
  return {
    serializeRequest: (spans) => {
      const bytes = serializeSpans(spans, lastSize);
      // Capped: one huge batch must not make every later request start that large.
      lastSize = Math.min(bytes.length, MAX_SIZE_HINT);
      return bytes;
    },
    deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
  };
}

/**
 * The OTLP/HTTP protobuf span exporter: `OTLPTraceExporter` of
 * `@opentelemetry/exporter-trace-otlp-proto` with `spanSerializer` in place of the SDK's
 * (same options from the same variables: OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, _HEADERS,
 * _TIMEOUT, _COMPRESSION).
 */
export function protobufSpanExporter(): SpanExporter {
  const options = convertLegacyHttpOptions({}, 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' });
  return new OTLPExporterBase(createOtlpHttpExportDelegate(options, spanSerializer(), 'otlp_http_span_exporter', TraceExporterMetricsHelper, undefined));
}
