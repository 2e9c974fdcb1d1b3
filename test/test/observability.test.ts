/**
 * Observability of the running system: real OTLP export from every service to a mock
 * collector (one trace per task from the HTTP submit through the worker's submit and
 * poll phases to the result), Prometheus metrics scraped and parsed, probes that follow
 * Redis going away and coming back.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockOtlpServer } from '@elastic/mockotlpserver';
import { freePort, spawnService, startRedis, waitFor, type RedisServer, type ServiceProcess } from '@solvestream/testkit';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { awaitTask, serviceEntry, SIM_KEY, startSystem, submit, waitHttp, type System } from '../src';

type OtlpLink = { traceId: string | Buffer; spanId: string | Buffer; attributes?: { key: string; value: Record<string, unknown> }[] };
type OtlpSpan = { traceId: string | Buffer; spanId: string | Buffer; parentSpanId?: string | Buffer; name: string; kind: number; attributes?: { key: string; value: Record<string, unknown> }[]; links?: OtlpLink[] };
/** fetch that gives up after 3 s (a probe that hangs is a failed probe). */
const get = (url: string): Promise<Response> => fetch(url, { signal: AbortSignal.timeout(3000) });
const hex = (v: string | Buffer | undefined): string => (v === undefined ? '' : typeof v === 'string' ? v : Buffer.from(v).toString('hex'));
const attr = (s: OtlpSpan, key: string): unknown => {
  const a = s.attributes?.find((x) => x.key === key);
  return a ? Object.values(a.value)[0] : undefined;
};

let redis: RedisServer;
let system: System;
let dr: ServiceProcess;
let drUrl: string;
let archiveDir: string;
let otlp: MockOtlpServer;
const spans: { service: string; span: OtlpSpan }[] = [];
const otherExports = { metrics: 0, logs: 0 };

before(async () => {
  // onMetrics / onLogs exist in mockotlpserver (lib/mockotlpserver.js) but not in its types.
  otlp = new MockOtlpServer(<ConstructorParameters<typeof MockOtlpServer>[0]>{
    services: ['http'], httpHostname: '127.0.0.1', httpPort: 0, logLevel: 'warn',
    onTrace: (req: { resourceSpans?: { resource?: { attributes?: { key: string; value: { stringValue?: string } }[] }; scopeSpans?: { spans?: OtlpSpan[] }[] }[] }) => {
      for (const rs of req.resourceSpans ?? []) {
        const service = rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue ?? '?';
        for (const ss of rs.scopeSpans ?? []) for (const span of ss.spans ?? []) spans.push({ service, span });
      }
    },
    onMetrics: () => { otherExports.metrics++; },
    onLogs: () => { otherExports.logs++; },
  });
  await otlp.start();
  const otel = {
    SS_TRACING: 'on', OTEL_EXPORTER_OTLP_ENDPOINT: otlp.httpUrl.href.replace(/\/$/, ''), OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    // No OTEL_METRICS_EXPORTER / OTEL_LOGS_EXPORTER: the services then export traces only
    // (metrics are Prometheus /metrics). The short interval would show any metrics export.
    OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_METRIC_EXPORT_INTERVAL: '200',
  };
  redis = await startRedis({ aof: true });
  system = await startSystem({
    redisUrl: redis.url, workers: 1, supervisors: 1,
    // Webhooks on (the secrets test sends one to a local receiver with a token in its URL).
    producerEnv: { ...otel, WEBHOOK_SECRET: 'whsec-observability-test-0123456789', WEBHOOK_ALLOW_PRIVATE: 'true' },
    workerEnv: { ...otel, TRACE_PARENT_MODE: 'parent' }, supervisorEnv: otel,
  });
  archiveDir = mkdtempSync(join(tmpdir(), 'ss-obs-archive-'));
  const drPort = await freePort();
  drUrl = `http://127.0.0.1:${drPort}`;
  dr = spawnService({
    name: 'dr-recovery', entry: serviceEntry('dr-recovery'),
    env: { REDIS_URL: redis.url, KEY_PREFIX: system.keyPrefix, ARCHIVE_DIR: archiveDir, PORT: String(drPort), HOST: '127.0.0.1', DR_MODE: 'manual', LOG_LEVEL: 'warn', ...otel },
  });
  await waitHttp(`${drUrl}/health/ready`, dr);
});
after(async () => {
  await dr?.stop();
  if (archiveDir) rmSync(archiveDir, { recursive: true, force: true });
  await system?.stop();
  await redis?.stop();
  await otlp?.close();
});

test('one task, one trace: HTTP submit → send → process → submit and poll phases → send results', async () => {
  const id = await submit(system.apiUrl, { type: 'turnstile', params: { websiteURL: 'https://trace.example/', websiteKey: '0x4AAAAAAABS7vwvV6VFfMcD' } });
  const done = await awaitTask(system.apiUrl, id, 30_000);
  assert.equal(done.status, 'solved');
  const send = await waitFor('the send span of the task', () => spans.find((s) => s.span.name.startsWith('send ss:') && attr(s.span, 'messaging.message.conversation_id') === id), { timeoutMs: 15_000 });
  const traceId = hex(send.span.traceId);
  const inTrace = await waitFor('the worker spans in the same trace', () => {
    const t = spans.filter((s) => hex(s.span.traceId) === traceId);
    const names = t.map((s) => s.span.name);
    return ['process', 'submit', 'poll', 'send results'].every((n) => names.some((x) => x === n || x.startsWith(`${n} `))) ? t : undefined;
  }, { timeoutMs: 15_000 });
  const names = inTrace.map((s) => `${s.service}:${s.span.name}`);
  console.log(`trace ${traceId}: ${names.join(', ')}`);
  assert.ok(inTrace.some((s) => s.service === 'producer' && s.span.kind === 2), 'the HTTP server span of the submit is in the trace');
  assert.equal(send.service, 'producer');
  const request = inTrace.find((s) => s.service === 'producer' && s.span.name === 'request');
  assert.equal(hex(send.span.parentSpanId ?? ''), hex(request?.span.spanId ?? 'none'), 'send is a child of fastify\'s request span');
  const poll = inTrace.find((s) => s.span.name === 'poll')!;
  assert.equal(attr(poll.span, 'solvestream.task.type'), 'turnstile');
  assert.ok(Number(attr(poll.span, 'solvestream.poll.count')) >= 1);
  assert.match(String(attr(poll.span, 'solvestream.provider.task_id')), /^\d+$/);
  const submitSpan = inTrace.find((s) => s.span.name === 'submit')!;
  assert.equal(attr(submitSpan.span, 'solvestream.provider.name'), 'sim');
  assert.equal(attr(submitSpan.span, 'solvestream.checkpoint'), 'recorded', 'the submit phase ends with its checkpoint');
  // The worker's auto-pipelined commands would be filed under whichever task queued a
  // tick's first command: none of them is a span (untracedCommands).
  assert.deepEqual(inTrace.filter((s) => s.service === 'worker' && attr(s.span, 'db.system.name') === 'redis').map((s) => s.span.name), [], 'no worker Redis span');
  const processSpan = inTrace.find((s) => s.span.name.startsWith('process '))!;
  assert.equal(processSpan.span.kind, 5, 'CONSUMER');
  assert.equal(attr(processSpan.span, 'messaging.consumer.group.name'), 'workers');
  // The poll requests are spans of their own (a request serves many tasks), linked to
  // this task's poll phase, with its provider task id on the link.
  const pollSpanId = hex(poll.span.spanId);
  const requests = await waitFor('a poll request span linked to the poll phase', () => {
    const r = spans.filter((s) => s.span.name === 'poll sim' && (s.span.links ?? []).some((l) => hex(l.spanId) === pollSpanId));
    return r.length >= Number(attr(poll.span, 'solvestream.poll.count')) ? r : undefined;
  }, { timeoutMs: 15_000 });
  const link = requests[0]!.span.links!.find((l) => hex(l.spanId) === pollSpanId)!;
  assert.equal(hex(link.traceId), traceId);
  assert.equal(link.attributes?.find((a) => a.key === 'solvestream.provider.task_id')?.value.stringValue, attr(poll.span, 'solvestream.provider.task_id'));
  assert.equal(requests[0]!.span.kind, 3, 'CLIENT');
  assert.deepEqual(otherExports, { metrics: 0, logs: 0 }, 'traces only: no OTLP metrics or logs unless asked for');
  // The messaging spans ARE their script calls (withCallSpan): no ioredis span under them,
  // and fastify's request span has no `handler - ` child repeating it.
  const sendResults = inTrace.find((s) => s.span.name === 'send results')!;
  for (const parent of [send, sendResults]) {
    // (In parent mode the worker's `process` span is a child of `send`: another process.)
    const under = inTrace.filter((s) => s.service === parent.service && s.span.parentSpanId && hex(s.span.parentSpanId) === hex(parent.span.spanId));
    assert.deepEqual(under.map((s) => s.span.name), [], `nothing of ${parent.service} under ${parent.span.name}`);
  }
  assert.deepEqual(names.filter((n) => n.includes('handler - ')), [], 'no fastify handler span');
});

test('secrets stay out of every exported span: the client key in a gateway URL, a proxy password, a webhook token, the provider key', async () => {
  // Distinctive values, so a hit anywhere in any span (attribute, event, link, name) is one of these.
  const clientKey = 'c0ffee00c0ffee00c0ffee00c0ffee00';
  const proxyPassword = 'pr0xy-s3cret-for-the-trace-test';
  const proxyLogin = 'proxy-login-for-the-trace-test';
  const hookToken = 'h00k-t0ken-for-the-trace-test';
  const hooks: string[] = [];
  const receiver = createServer((req, res) => { hooks.push(req.url ?? ''); req.resume(); req.on('end', () => res.end('ok')); });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  try {
    const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook?access_token=${hookToken}&task=any`;
    const rest = await submit(system.apiUrl, {
      type: 'recaptcha_v2', callbackUrl: hookUrl,
      params: { websiteURL: 'https://secret.example/', websiteKey: '6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-', proxy: { type: 'http', address: 'proxy.example', port: 3128, login: proxyLogin, password: proxyPassword } },
    });
    assert.equal((await awaitTask(system.apiUrl, rest, 30_000)).status, 'solved');
    // The gateway the way 2captcha clients call it: the key in the query string, on in.php and res.php.
    const q = new URLSearchParams({ key: clientKey, method: 'userrecaptcha', googlekey: '6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-', pageurl: 'https://secret.example/', proxy: `${proxyLogin}:${proxyPassword}@proxy.example:3128`, proxytype: 'HTTP', json: '1' });
    const inPhp = (await (await get(`${system.apiUrl}/in.php?${q}`)).json()) as { status: number; request: string };
    assert.equal(inPhp.status, 1, JSON.stringify(inPhp));
    await waitFor('the gateway task solved', async () => {
      const r = (await (await get(`${system.apiUrl}/res.php?key=${clientKey}&action=get&id=${inPhp.request}&json=1`)).json()) as { status: number; request: string };
      if (r.status === 0 && r.request !== 'CAPCHA_NOT_READY') throw new Error(JSON.stringify(r));
      return r.status === 1;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    await waitFor('the webhook delivered', () => hooks.length > 0, { timeoutMs: 15_000 });
    // Every span these requests made has been exported: both tasks' results were sent, the
    // res.php request and the webhook's outgoing request have their spans.
    await waitFor('the spans of both tasks, res.php and the webhook', () => {
      const sent = new Set(spans.filter((s) => s.span.name === 'send results').map((s) => attr(s.span, 'messaging.message.conversation_id')));
      const resPhp = spans.some((s) => s.service === 'producer' && s.span.kind === 2 && attr(s.span, 'url.path') === '/res.php');
      const hook = spans.some((s) => s.service === 'producer' && s.span.kind === 3 && attr(s.span, 'url.path') === '/hook');
      return sent.has(rest) && sent.has(inPhp.request) && resPhp && hook ? true : undefined;
    }, { timeoutMs: 15_000 });
  } finally {
    await new Promise<void>((r) => receiver.close(() => r()));
  }
  const leaks: string[] = [];
  for (const { service, span } of spans) {
    const text = JSON.stringify(span);
    for (const [what, secret] of [['client API key', clientKey], ['proxy password', proxyPassword], ['webhook token', hookToken], ['provider key', SIM_KEY]] as const) {
      const at = span.attributes?.find((a) => JSON.stringify(a).includes(secret))?.key ?? (text.includes(secret) ? '(not an attribute)' : undefined);
      if (at) leaks.push(`${what} in ${service} span "${span.name}", ${at}`);
    }
  }
  assert.deepEqual([...new Set(leaks)], [], 'no secret in any exported span');
});

test('metrics are scraped and parsed from the producer, the worker and the supervisor', async () => {
  const id = await submit(system.apiUrl, { type: 'image', params: { body: Buffer.alloc(300, 7).toString('base64') } });
  assert.equal((await awaitTask(system.apiUrl, id, 30_000)).status, 'solved');
  const line = await system.workers[0]!.waitForLine('worker ready');
  const ops = (JSON.parse(line) as { ops: string }).ops;
  const parse = (text: string): Map<string, number> => new Map(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))]));
  const w = parse(await (await fetch(`${ops}/metrics`)).text());
  const solved = [...w.entries()].filter(([k]) => k.startsWith('solvestream_worker_deliveries_total{') && k.includes('end="solved"'));
  assert.ok(solved.reduce((a, [, v]) => a + v, 0) >= 1, 'the solved delivery was counted');
  assert.ok([...w.keys()].some((k) => k.startsWith('solvestream_task_duration_seconds_bucket{') && k.includes('provider="sim"') && k.includes('type="image"')), 'solve duration by type and provider');
  assert.ok([...w.keys()].some((k) => k.startsWith('solvestream_stream_group_lag{lane="normal"')));
  assert.ok([...w.entries()].some(([k, v]) => k.startsWith('solvestream_provider_request_duration_seconds_count{') && k.includes('provider="sim"') && k.includes('phase="submit"') && v >= 1), 'provider request durations by phase');
  // Tracing is on here: every service counts the spans its exporter has delivered (after
  // the export's round trip, so scraped again until they show).
  const exportedSpans = (url: string, what: string): Promise<number> => waitFor(`${what} counted exported spans`, async () => {
    const n = [...parse(await (await fetch(url)).text()).entries()]
      .filter(([k]) => k.startsWith('solvestream_trace_spans_total{') && k.includes('outcome="exported"')).reduce((a, [, v]) => a + v, 0);
    return n >= 1 ? n : undefined;
  }, { timeoutMs: 10_000 });
  await exportedSpans(`${ops}/metrics`, 'the worker');
  await exportedSpans(`${system.apiUrl}/metrics`, 'the producer');
  const p = parse(await (await fetch(`${system.apiUrl}/metrics`)).text());
  const created = [...p.entries()].filter(([k]) => k.startsWith('solvestream_tasks_submitted_total{') && k.includes('outcome="created"'));
  assert.ok(created.reduce((a, [, v]) => a + v, 0) >= 1, 'the producer counted the submit');
  const s = parse(await (await fetch(`${system.supervisorUrls[0]}/metrics`)).text());
  assert.ok([...s.keys()].some((k) => k.startsWith('solvestream_supervisor_reclaimed_total')));
  const d = parse(await (await fetch(`${drUrl}/metrics`)).text());
  const series = (m: Map<string, number>, name: string, label = ''): number =>
    [...m.entries()].filter(([k]) => (k === name || k.startsWith(`${name}{`)) && k.includes(label)).reduce((a, [, v]) => a + v, 0);
  assert.ok(series(d, 'solvestream_dr_archived_entries_total') >= 1, 'dr-recovery archived entries');
  assert.equal(series(d, 'solvestream_dr_state', 'state="ARCHIVING"'), 1);
});

test('probes: ready goes 503 while Redis is down and back to 200 when it returns; liveness stays 200', async () => {
  const line = await system.workers[0]!.waitForLine('worker ready');
  const workerOps = (JSON.parse(line) as { ops: string }).ops;
  const urls = [`${system.apiUrl}/health/ready`, `${workerOps}/health/ready`, `${system.supervisorUrls[0]}/health/ready`, `${drUrl}/health/ready`];
  for (const base of [system.apiUrl, workerOps, system.supervisorUrls[0]!, drUrl]) {
    assert.equal((await get(`${base}/livez`)).status, 200, `${base}/livez`);
    assert.equal((await get(`${base}/readyz`)).status, 200, `${base}/readyz`);
  }
  for (const u of urls) assert.equal((await get(u)).status, 200, u);
  await redis.kill('SIGKILL');
  for (const u of urls) await waitFor(`${u} → 503`, async () => (await get(u)).status === 503, { timeoutMs: 20_000 });
  assert.equal((await get(`${workerOps}/livez`)).status, 200, 'a Redis outage does not fail liveness');
  await redis.restart();
  for (const u of urls) await waitFor(`${u} → 200`, async () => (await get(u)).status === 200, { timeoutMs: 30_000 });
});
