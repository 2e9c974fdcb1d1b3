/**
 * Results delivery against a real Redis: webhooks (HMAC signature, retries with
 * backoff, status on the task and in its events, giving up), the SSE stream of a
 * tenant's results with resume by Last-Event-ID, and the expiry sweep that ends tasks
 * nobody polls.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Admission } from '@solvestream/contracts';
import { waitFor } from '@solvestream/testkit';
import { ExpirySweeper } from '../src/delivery/expiry';
import { SIGNATURE_HEADER, verifySignature, WebhookSender } from '../src/delivery/webhooks';
import { TaskReader } from '../src/task-reader';
import { completeTask, startHarness, VALID_PARAMS, type Harness } from './harness';

const SECRET = 'harness-webhook-secret-0123456789';

interface Received { headers: IncomingMessage['headers']; body: string; answered: number }

let h: Harness;
let receiver: Server;
let receiverUrl: string;
const received = new Map<string, Received[]>();
/** Status to answer per task id, per attempt (last one repeats). */
const script = new Map<string, number[]>();
let sender: WebhookSender;

before(async () => {
  h = await startHarness({ dispatcher: true });
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const id = String(req.headers['x-solvestream-task']);
      const list = received.get(id) ?? [];
      const plan = script.get(id) ?? [200];
      const status = plan[Math.min(list.length, plan.length - 1)] ?? 200;
      list.push({ headers: req.headers, body, answered: status });
      received.set(id, list);
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  sender = new WebhookSender({
    redis: h.worker, keys: h.keys, admission: new Admission(h.worker, h.keys), transitions: h.workerTransitions,
    reader: new TaskReader({ redis: h.worker, keys: h.keys, transitions: h.workerTransitions, clock: Date.now, graceMs: 30_000 }),
    tenants: h.tenants, logger: h.app.log as never, maxAttempts: 4, timeoutMs: 1_000, backoffMs: () => 50, pollMs: 25,
  }).start();
});
after(async () => {
  await sender?.close();
  await h.close();
  await new Promise((r) => receiver.close(r));
});

async function submit(callbackUrl?: string): Promise<string> {
  const res = await h.app.inject({
    method: 'POST', url: '/v1/tasks', headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ type: 'turnstile', params: VALID_PARAMS.turnstile, ...(callbackUrl ? { callbackUrl } : {}) }),
  });
  assert.equal(res.statusCode, 202, res.body);
  return res.json().id as string;
}
const events = async (id: string): Promise<string[]> =>
  ((await h.app.inject({ method: 'GET', url: `/v1/tasks/${id}/events` })).json() as { events: { event: string }[] }).events.map((e) => e.event);

test('webhook: signed, retried after failures until a 2xx, status and attempts on the task and in its events', async () => {
  const id = await submit(receiverUrl);
  script.set(id, [500, 503, 200]);
  assert.deepEqual((await h.app.inject({ method: 'GET', url: `/v1/tasks/${id}` })).json().webhook, { url: receiverUrl, status: 'pending', attempts: 0 });
  await completeTask(h, id, { solution: { token: 'tok-hook' } });
  await waitFor('three deliveries', () => (received.get(id)?.length ?? 0) >= 3, { timeoutMs: 10_000 });
  const deliveries = received.get(id)!;
  assert.deepEqual(deliveries.map((d) => d.answered), [500, 503, 200]);
  assert.deepEqual(deliveries.map((d) => d.headers['x-solvestream-attempt']), ['1', '2', '3']);
  const last = deliveries[2]!;
  const sig = String(last.headers[SIGNATURE_HEADER]);
  assert.ok(verifySignature(SECRET, last.body, sig, Math.floor(Date.now() / 1000)), 'the signature verifies with the tenant secret');
  assert.ok(!verifySignature('another-secret-0123456789', last.body, sig, Math.floor(Date.now() / 1000)), 'and not with another');
  assert.ok(!verifySignature(SECRET, last.body.replace('tok-hook', 'tok-evil'), sig, Math.floor(Date.now() / 1000)), 'a changed body fails');
  const payload = JSON.parse(last.body) as { event: string; task: { id: string; status: string; solution: { token: string } } };
  assert.equal(payload.event, 'task.finished');
  assert.equal(payload.task.id, id);
  assert.equal(payload.task.solution.token, 'tok-hook');
  await waitFor('delivered status', async () => (await h.worker.hget(h.keys.task(id), 'webhookStatus')) === 'delivered');
  assert.deepEqual((await h.app.inject({ method: 'GET', url: `/v1/tasks/${id}` })).json().webhook, { url: receiverUrl, status: 'delivered', attempts: 3 });
  assert.deepEqual((await events(id)).filter((e) => e.startsWith('webhook')), ['webhook-failed', 'webhook-failed', 'webhook-delivered']);
  assert.equal(await h.worker.zscore(h.keys.webhooks, id), null, 'nothing left to send');
});

test('webhook: an endpoint that keeps failing (or refuses connections) is given up after the max attempts; polling still works', async () => {
  const id = await submit(receiverUrl);
  script.set(id, [500]);
  await completeTask(h, id);
  await waitFor('given up', async () => (await h.worker.hget(h.keys.task(id), 'webhookStatus')) === 'failed', { timeoutMs: 10_000 });
  assert.equal(received.get(id)?.length, 4);
  assert.deepEqual((await events(id)).filter((e) => e.startsWith('webhook')), ['webhook-failed', 'webhook-failed', 'webhook-failed', 'webhook-abandoned']);
  assert.equal((await h.app.inject({ method: 'GET', url: `/v1/tasks/${id}` })).json().status, 'solved', 'polling is the fallback');

  const dead = await submit('http://127.0.0.1:9/nothing-listens-here');
  await completeTask(h, dead);
  await waitFor('given up on a refused connection', async () => (await h.worker.hget(h.keys.task(dead), 'webhookStatus')) === 'failed', { timeoutMs: 10_000 });
  assert.ok(sender.stats.abandoned >= 2);
});

test('a task without callbackUrl schedules no webhook; a cancelled task with one is delivered too', async () => {
  const plain = await submit();
  await completeTask(h, plain);
  const cancelled = await submit(receiverUrl);
  await h.app.inject({ method: 'POST', url: `/v1/tasks/${cancelled}/cancel` });
  await waitFor('the cancelled task delivered', () => (received.get(cancelled)?.length ?? 0) === 1, { timeoutMs: 10_000 });
  assert.equal((JSON.parse(received.get(cancelled)![0]!.body) as { task: { status: string } }).task.status, 'cancelled');
  assert.equal(received.has(plain), false);
});

/** Opens the SSE stream and collects `result` events until `count` arrive. */
async function readEvents(base: string, count: number, headers: Record<string, string> = {}): Promise<{ id: string; data: { id: string; status: string } }[]> {
  const ac = new AbortController();
  const res = await fetch(`${base}/v1/results/stream`, { headers, signal: ac.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const out: { id: string; data: { id: string; status: string } }[] = [];
  const decoder = new TextDecoder();
  let buf = '';
  const reader = res.body!.getReader();
  try {
    while (out.length < count) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const id = /^id: (.+)$/m.exec(block)?.[1];
        const data = /^data: (.+)$/m.exec(block)?.[1];
        if (id && data && /^event: result$/m.test(block)) out.push({ id, data: JSON.parse(data) as { id: string; status: string } });
      }
    }
  } finally {
    ac.abort();
  }
  return out;
}

test("SSE: the tenant's results stream live, and a reconnect with Last-Event-ID replays only what came after", async () => {
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
  const first = await submit();
  const live = readEvents(base, 1);
  await new Promise((r) => setTimeout(r, 200)); // subscribed
  await completeTask(h, first, { solution: { token: 'sse-1' } });
  const [e1] = await live;
  assert.equal(e1?.data.id, first);
  assert.equal(e1?.data.status, 'solved');

  const second = await submit();
  await completeTask(h, second);
  const third = await submit();
  const resumed = readEvents(base, 2, { 'last-event-id': e1!.id });
  await new Promise((r) => setTimeout(r, 200));
  await completeTask(h, third);
  const got = await resumed;
  assert.deepEqual(got.map((e) => e.data.id), [second, third], 'replayed the missed one, then live, nothing twice');

  const bad = await fetch(`${base}/v1/results/stream?after=yesterday`);
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { error: { field: string } }).error.field, 'after');
});

test('expiry sweep: an overdue task nobody polls fails as ERROR_CAPTCHA_UNSOLVABLE and its webhook still fires', async () => {
  const id = await submit(receiverUrl);
  // As if submitted long ago with no worker alive: past its deadline and grace.
  const past = Date.now() - 60_000;
  await h.worker.hset(h.keys.task(id), 'deadline', String(past));
  await h.worker.zadd(h.keys.openTasks('default'), past, id);
  const sweeper = new ExpirySweeper({ redis: h.worker, keys: h.keys, transitions: h.workerTransitions, logger: h.app.log as never, graceMs: 30_000 });
  assert.equal(await sweeper.sweep(), 1);
  assert.equal(await sweeper.sweep(), 0, 'once');
  assert.equal(await h.worker.zscore(h.keys.openTasks('default'), id), null);
  const view = (await h.app.inject({ method: 'GET', url: `/v1/tasks/${id}` })).json() as { status: string; error: { code: string } };
  assert.equal(view.status, 'failed');
  assert.equal(view.error.code, 'ERROR_CAPTCHA_UNSOLVABLE');
  await waitFor('the webhook of the expired task', () => (received.get(id)?.length ?? 0) === 1, { timeoutMs: 10_000 });
  assert.equal((JSON.parse(received.get(id)![0]!.body) as { task: { status: string } }).task.status, 'failed');
  assert.deepEqual((await events(id)).slice(0, 3), ['submitted', 'expired', 'failed']);
});
