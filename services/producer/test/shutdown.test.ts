/**
 * The drain path of `app.close()` on a listening server: requests that arrive while
 * draining are refused in the API's error shape, and in-flight requests finish.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { keyspace, Transitions } from '@solvestream/contracts';
import { createLogger, createRedis } from '@solvestream/core';
import { sleep, startRedis, waitFor } from '@solvestream/testkit';
import { buildApp } from '../src/app';
import type { ResultsNotifier, WakeReason } from '../src/results-listener';
import { startHarness, submit, VALID_PARAMS } from './harness';

/** A notifier whose close() takes `closeMs`, to hold the app in its draining state. */
function slowNotifier(closeMs: number): ResultsNotifier {
  const never = new Promise<WakeReason>(() => undefined);
  let state: 'running' | 'stopped' = 'running';
  return {
    watch: () => ({ woken: never, cancel: () => undefined }),
    subscribe: () => () => undefined,
    close: async () => {
      await sleep(closeMs);
      state = 'stopped';
    },
    stats: () => ({ state, waiters: 0 }),
  };
}

test('while draining, new requests get 503 SHUTTING_DOWN; close() then completes', async () => {
  const server = await startRedis();
  const redis: Redis = createRedis({ url: server.url, name: 'shutdown-api', role: 'api' });
  try {
    await waitFor('api connection ready', () => redis.status === 'ready');
    const keys = keyspace({ prefix: 'sd' });
    const app = buildApp({
      redis,
      transitions: new Transitions(redis, keys),
      keys,
      logger: createLogger({ service: 'producer', level: 'silent' }),
      clock: Date.now,
      notifier: slowNotifier(800),
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    assert.equal((await fetch(`${base}/health`)).status, 200);

    const closing = app.close();
    await sleep(100);
    const res = await fetch(`${base}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'turnstile', params: VALID_PARAMS.turnstile }),
    });
    assert.equal(res.status, 503);
    assert.deepEqual(((await res.json()) as { error: { code: string } }).error.code, 'SHUTTING_DOWN');
    assert.equal(res.headers.get('connection'), 'close');
    assert.equal(await redis.xlen(keys.lane('normal')), 0, 'nothing was accepted while draining');
    await closing;
  } finally {
    redis.disconnect();
    await server.stop();
  }
});

test('a request still in flight when the server stops listening answers with Connection: close, so close() does not wait out the keep-alive timeout', async () => {
  const h = await startHarness();
  // The API connection's socket (the client side): paused, its replies wait unread.
  const apiSocket = (h.redis as unknown as { stream: { pause(): void; resume(): void } }).stream;
  try {
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
    const { id } = await submit(h.app, { type: 'turnstile', params: VALID_PARAMS.turnstile });
    const poll = fetch(`${base}/v1/tasks/${id}?wait=30`); // undici keeps the connection alive
    await waitFor('the long-poll waits', () => h.listener.stats().waiters === 1);
    // close() releases the long-poll, which re-reads its task before answering. Held up
    // here, the answer leaves after the server stopped listening and swept its idle
    // connections (the race a loaded CI machine lost: the producer then waited out the
    // 72 s keep-alive and was killed after 30 s).
    apiSocket.pause();
    const started = Date.now();
    const closing = h.app.close();
    await sleep(300);
    apiSocket.resume();
    const res = await poll;
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('connection'), 'close');
    assert.equal(((await res.json()) as { status: string }).status, 'queued');
    await closing;
    assert.ok(Date.now() - started < 5_000, `close() took ${Date.now() - started} ms`);
  } finally {
    apiSocket.resume();
    await h.close();
  }
});

test('an open results stream (SSE) is ended by close(), and its connection with it', async () => {
  const h = await startHarness();
  try {
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
    const res = await fetch(`${base}/v1/results/stream`);
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    await reader.read(); // ': connected'
    const started = Date.now();
    const closing = h.app.close();
    for (;;) if ((await reader.read()).done) break; // the server ended the stream
    await closing;
    assert.ok(Date.now() - started < 5_000, `close() took ${Date.now() - started} ms`);
  } finally {
    await h.close();
  }
});
