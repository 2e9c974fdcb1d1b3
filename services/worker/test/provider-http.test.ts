/**
 * ProviderHttp, the transport under both protocols, against real HTTP servers that
 * misbehave on purpose: one that never answers, one that answers too much (with and
 * without a content length), one that cuts an answer off, one that refuses connections,
 * one that counts how many requests it holds at once, and one that records what reached it
 * (the send guard).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ProviderHttp } from '../src/provider/http';
import { ProviderError } from '../src/provider/errors';
import { LeaseLostError } from '../src/send-guard';

const KEY = 'k-0123456789abcdef0123456789abcdef';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;
const servers: http.Server[] = [];
after(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => { s.closeAllConnections(); s.close(r); })));
});

async function serve(handler: Handler): Promise<string> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, res, Buffer.concat(chunks).toString()));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const client = (baseUrl: string, o: Partial<ConstructorParameters<typeof ProviderHttp>[0]> = {}): ProviderHttp =>
  new ProviderHttp({ name: 'p', baseUrl, key: KEY, timeoutMs: 2000, maxConcurrent: 4, zeroBalanceIsCapacity: false, ...o });

async function failure(p: Promise<unknown>): Promise<ProviderError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof ProviderError, `expected a ProviderError, got ${String(err)}`);
  assert.ok(!err.message.includes(KEY), 'the key never appears in an error');
  return err;
}

test('a POST reaches the base URL path with its form body and content type; the 200 text comes back', async () => {
  let seen: { url?: string; type?: string; body?: string } = {};
  const url = await serve((req, res, body) => {
    seen = { url: req.url, type: req.headers['content-type'], body };
    res.end('OK|123');
  });
  const h = client(`${url}/api/v1/`);
  assert.equal(await h.post('/in.php', { form: { key: h.key, method: 'userrecaptcha', pageurl: 'https://a.example/?q=1&r=2' } }), 'OK|123');
  assert.equal(seen.url, '/api/v1/in.php');
  assert.equal(seen.type, 'application/x-www-form-urlencoded');
  assert.deepEqual(Object.fromEntries(new URLSearchParams(seen.body)), { key: KEY, method: 'userrecaptcha', pageurl: 'https://a.example/?q=1&r=2' });
  assert.equal(await h.post('/createTask', { json: { clientKey: h.key, task: { type: 'x' } } }), 'OK|123');
  assert.equal(seen.type, 'application/json');
  assert.deepEqual(JSON.parse(seen.body ?? ''), { clientKey: KEY, task: { type: 'x' } });
  h.close();
});

test('status codes: 429 is capacity, 5xx a retry, each naming the provider and path', async () => {
  let status = 429;
  const url = await serve((_req, res) => { res.statusCode = status; res.end('busy'); });
  const h = client(url);
  let err = await failure(h.post('/in.php', { form: { key: KEY } }));
  assert.deepEqual([err.code, err.errorClass], ['HTTP_429', 'capacity']);
  status = 503;
  err = await failure(h.post('/res.php', { form: { key: KEY } }));
  assert.deepEqual([err.code, err.errorClass], ['HTTP_503', 'retry']);
  assert.match(err.message, /^p: \/res\.php answered HTTP 503/);
  h.close();
});

test('a provider that never answers times out as NETWORK after timeoutMs, and the slot is released', async () => {
  const url = await serve(() => { /* never answers */ });
  const h = client(url, { timeoutMs: 300, maxConcurrent: 1 });
  const t0 = Date.now();
  const err = await failure(h.post('/in.php', { form: { key: KEY } }));
  assert.equal(err.code, 'NETWORK');
  assert.match(err.message, /no answer within 300 ms/);
  assert.ok(Date.now() - t0 >= 250, 'not before the timeout');
  // The one slot is free again: a second request is sent (and times out) rather than queueing forever.
  assert.equal((await failure(h.post('/in.php', { form: { key: KEY } }))).code, 'NETWORK');
  assert.equal(h.queued, 0);
  h.close();
});

test('a provider that drips its answer is cut off at the whole-request deadline, not only on a silent gap', async () => {
  const url = await serve((_req, res) => {
    res.writeHead(200, { 'content-length': '1000' });
    // One byte every 50 ms: never a gap of timeoutMs, but 1,000 bytes would take 50 s.
    const t = setInterval(() => { if (!res.destroyed) res.write('x'); else clearInterval(t); }, 50);
    res.on('close', () => clearInterval(t));
  });
  const h = client(url, { timeoutMs: 300, maxConcurrent: 1 });
  const t0 = Date.now();
  const err = await failure(h.post('/res.php', { form: { key: KEY } }));
  const took = Date.now() - t0;
  assert.equal(err.code, 'NETWORK');
  assert.match(err.message, /no answer within 300 ms/);
  assert.ok(took >= 280 && took < 1500, `cut off after ${took} ms`);
  // The slot came back: the next request is served.
  assert.equal(h.queued, 0);
  h.close();
});

test('an answer over 8 MB is cut off, with and without a content length', async () => {
  const big = Buffer.alloc(8 * 1024 * 1024 + 1, 'a');
  const url = await serve((req, res) => {
    if (req.url === '/declared') { res.setHeader('content-length', big.length); res.end(big); return; }
    // chunked: no length up front
    res.write(big.subarray(0, 4 * 1024 * 1024));
    res.end(big.subarray(4 * 1024 * 1024));
  });
  const h = client(url);
  for (const path of ['/declared', '/chunked']) {
    const err = await failure(h.post(path, { form: { key: KEY } }));
    assert.equal(err.code, 'NETWORK', path);
    assert.match(err.message, /answer larger than 8388608 bytes/, path);
  }
  // A large but legal answer still arrives whole.
  const ok = await serve((_req, res) => res.end(Buffer.alloc(1024 * 1024, 'b')));
  assert.equal((await client(ok).post('/res.php', { form: { key: KEY } })).length, 1024 * 1024);
  h.close();
});

test('a cut-off answer and a refused connection are NETWORK errors (retryable)', async () => {
  const url = await serve((_req, res) => {
    res.setHeader('content-length', 100);
    res.write('OK|');
    setTimeout(() => res.socket?.destroy(), 20);
  });
  const h = client(url);
  const cut = await failure(h.post('/in.php', { form: { key: KEY } }));
  assert.deepEqual([cut.code, cut.errorClass], ['NETWORK', 'retry']);
  h.close();
  const closed = await serve(() => undefined);
  const server = servers[servers.length - 1]!;
  await new Promise((r) => server.close(r));
  const refused = await failure(client(closed).post('/in.php', { form: { key: KEY } }));
  assert.deepEqual([refused.code, refused.errorClass], ['NETWORK', 'retry']);
});

test('at most maxConcurrent requests are in flight; the rest wait their turn and all complete', async () => {
  let open = 0;
  let peak = 0;
  const url = await serve((_req, res) => {
    open++;
    peak = Math.max(peak, open);
    setTimeout(() => { open--; res.end('OK|1'); }, 30);
  });
  const h = client(url, { maxConcurrent: 3 });
  const all = Array.from({ length: 12 }, () => h.post('/in.php', { form: { key: KEY } }));
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(h.queued, 9, 'nine wait behind the bound');
  assert.deepEqual(await Promise.all(all), Array(12).fill('OK|1'));
  assert.equal(peak, 3);
  h.close();
});

test('a request that waited for a slot asks its send guard first: refused, it never reaches the provider', async () => {
  const seen: string[] = [];
  const url = await serve((_req, res, body) => {
    seen.push(new URLSearchParams(body).get('n') ?? '?');
    setTimeout(() => res.end('OK|1'), 50);
  });
  const h = client(url, { maxConcurrent: 1 });
  let asked = 0;
  const first = h.post('/in.php', { form: { n: 'first' } }, async () => { asked++; return true; });
  // Queued behind the first; by the time its slot frees, its task has been lost.
  const second = h.post('/in.php', { form: { n: 'second' } }, async () => { asked++; return false; });
  const third = h.post('/in.php', { form: { n: 'third' } }); // no guard: sent
  assert.equal(await first, 'OK|1');
  await assert.rejects(second, (err: unknown) => err instanceof LeaseLostError);
  assert.equal(await third, 'OK|1');
  assert.equal(asked, 2, 'each guard was asked once');
  assert.deepEqual(seen, ['first', 'third'], 'the refused request was never sent, and its slot went to the next');
  h.close();
});
