/**
 * The HTTP underneath one provider, whatever its protocol: a POST with a timeout, a
 * bound on concurrent requests, and errors that never carry the key.
 *
 * Why a bound: a worker with 10,000 tasks in flight would otherwise open 10,000 sockets
 * at once when a batch of tasks arrives. Requests past the bound wait in a FIFO queue;
 * the timeout starts when the request is actually sent. Connections are kept alive and
 * reused (one undici `Pool` per provider, at most `maxConcurrent` connections, no HTTP
 * pipelining: a POST that a dropped connection cut off must not be replayed blind).
 *
 * Why undici's `Pool.request` and not `node:http` or `fetch`: the provider submit is the
 * one HTTP request every task needs, and it was the largest item in the worker's CPU
 * profile (≈ 37 % under the throughput benchmark with `node:http`). `Pool.request` costs
 * ≈ 50 µs of client CPU per request against ≈ 80 µs for `http.request` with a keep-alive
 * agent (20,000 POSTs, 256 outstanding, loopback). `fetch` (undici underneath, plus the
 * WHATWG Request/Response/stream layers) left ~20 KB of garbage per request and took the
 * worker past 400 MB at 10,000 submits in a burst (bench/inflight.ts).
 *
 * Transport failures become `ProviderError`s: `NETWORK` (refused, reset, timeout),
 * `HTTP_429` (capacity), `HTTP_<status>` (retry). A 200 body is handed back as text for
 * the protocol module to parse.
 */
import { errors, Pool } from 'undici';
import type { Readable } from 'node:stream';
import { scrubSecrets } from '@solvestream/core';
import { ProviderError, classifyCode } from './errors';
import { checkSendGuard, type SendGuard } from '../send-guard';

export interface HttpOptions {
  name: string;
  baseUrl: string;
  /** API key. Secret: scrubbed from every error message. */
  key: string;
  timeoutMs: number;
  /** Most requests in flight at once to this provider. */
  maxConcurrent: number;
  /** CaptchaAI semantics for ERROR_ZERO_BALANCE (see errors.ts). */
  zeroBalanceIsCapacity: boolean;
}

export type Body = { form: Record<string, string> } | { json: Record<string, unknown> };

/** Answers over this size are cut off (a NETWORK error; a multi-get of 100 tokens is ~200 KB). */
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

export class ProviderHttp {
  private readonly pool: Pool;
  /** The base URL's path, without a trailing slash: every request path is appended to it. */
  private readonly basePath: string;
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private currentKey: string;
  /** Every key this client has used: an error quoting an earlier one is scrubbed too. */
  private readonly keys: string[];
  /** Bodies being read, with their deadline (see `track`). */
  private readonly reading = new Map<Readable, number>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(readonly o: HttpOptions) {
    this.currentKey = o.key;
    this.keys = [o.key];
    const url = new URL(o.baseUrl.replace(/\/+$/, ''));
    this.basePath = url.pathname.replace(/\/$/, '');
    this.pool = new Pool(url.origin, { connections: o.maxConcurrent, pipelining: 1, connectTimeout: o.timeoutMs });
  }

  /** The API key requests are sent with now. Secret. */
  get key(): string {
    return this.currentKey;
  }

  /**
   * Switches the key (runtime-config rotation). Requests already sent finish with the
   * old key; every request sent from now on carries the new one.
   */
  setKey(key: string): void {
    this.currentKey = key;
    if (!this.keys.includes(key)) this.keys.push(key);
  }

  /** A classified error whose message names the provider and has every key scrubbed out. */
  error(code: string, message: string, cause?: unknown): ProviderError {
    const cls = classifyCode(code, this.o.zeroBalanceIsCapacity);
    return new ProviderError(this.o.name, code, cls, scrubSecrets(`${this.o.name}: ${message}`, this.keys), cause);
  }

  /** Requests queued behind the concurrency bound (for tests and metrics). */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * POSTs `body` to `path` and returns the text of a 200 answer; anything else throws a
   * ProviderError. `guard` is asked once a slot is free, right before the request leaves.
   */
  async post(path: string, body: Body, guard?: SendGuard): Promise<string> {
    await this.acquire();
    let answer: { status: number; text: string };
    try {
      await checkSendGuard(guard); // the task may have been reclaimed while this waited
    } catch (err) {
      this.release();
      throw err;
    }
    try {
      answer = await this.send(path, body);
    } catch (err) {
      throw this.error('NETWORK', `${path} request failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      this.release();
    }
    if (answer.status === 429) throw this.error('HTTP_429', `${path} answered HTTP 429`);
    if (answer.status !== 200) throw this.error(`HTTP_${answer.status}`, `${path} answered HTTP ${answer.status}`);
    return answer.text;
  }

  /** Destroys every connection, idle or busy (shutdown): requests in flight fail as NETWORK. */
  close(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.pool.destroy().catch(() => undefined);
  }

  /**
   * The whole-request deadline. undici's timeouts bound the connect, the wait for the
   * headers and each gap between body chunks, not the body as a whole: a provider
   * dripping a byte a second would hold a slot (and the submits queued behind it)
   * forever. Bodies being read are listed with their deadline (`reading`), and one
   * coarse timer per provider destroys those past it: a Map entry per request instead
   * of a timer each.
   */
  private track(body: Readable, deadline: number): void {
    this.reading.set(body, deadline);
    if (this.sweeper) return;
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const [b, at] of this.reading) if (now >= at) b.destroy(new DeadlineError());
      if (this.reading.size === 0) {
        clearInterval(this.sweeper);
        this.sweeper = undefined;
      }
    }, Math.max(25, Math.round(this.o.timeoutMs / 4)));
    this.sweeper.unref();
  }

  /**
   * One request; rejects on transport failure, the timeout, or an answer over
   * MAX_ANSWER_BYTES. The timeout: undici's connect timeout and its headers timeout
   * (`timeoutMs` each), and for the body the whole-request deadline of `track` (start +
   * `timeoutMs`, checked every `timeoutMs / 4`), not an AbortController and a timer per
   * request (≈ 25 µs of the ≈ 55 µs a request takes).
   */
  private async send(path: string, body: Body): Promise<{ status: number; text: string }> {
    const form = 'form' in body;
    const deadline = Date.now() + this.o.timeoutMs;
    let reading: Readable | undefined;
    try {
      const res = await this.pool.request({
        path: this.basePath + path, method: 'POST', headersTimeout: this.o.timeoutMs, bodyTimeout: this.o.timeoutMs,
        headers: { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json' },
        body: form ? new URLSearchParams(body.form).toString() : JSON.stringify(body.json),
      });
      const declared = Number(res.headers['content-length']);
      if (declared > MAX_ANSWER_BYTES) {
        res.body.destroy();
        throw new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`);
      }
      reading = res.body;
      this.track(res.body, deadline);
      // A declared length is bounded above, so undici's own reader takes it; otherwise count.
      const text = Number.isFinite(declared) ? await res.body.text() : await readCapped(res.body);
      return { status: res.statusCode, text };
    } catch (err) {
      if (err instanceof errors.HeadersTimeoutError || err instanceof errors.BodyTimeoutError || err instanceof DeadlineError) {
        throw new Error(`no answer within ${this.o.timeoutMs} ms`);
      }
      throw err;
    } finally {
      if (reading) this.reading.delete(reading);
    }
  }

  private acquire(): Promise<void> {
    if (this.active < this.o.maxConcurrent) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next(); // the slot passes straight to the next request
    else this.active--;
  }
}

/** A body destroyed by the whole-request deadline (ProviderHttp.track). */
class DeadlineError extends Error {
  constructor() {
    super('past the request deadline');
    this.name = 'DeadlineError';
  }
}

/** Reads a body of unknown length, destroying it once it passes MAX_ANSWER_BYTES. */
function readCapped(body: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_ANSWER_BYTES) body.destroy(new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`));
      else chunks.push(c);
    });
    body.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    body.on('error', reject);
  });
}
