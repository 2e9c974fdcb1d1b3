/**
 * The HTTP underneath one provider, whatever its protocol: a POST with a timeout, a
 * bound on concurrent requests, and errors that never carry the key.
 *
 * Why a bound: a worker with 10,000 tasks in flight would otherwise open 10,000 sockets
 * at once when a batch of tasks arrives. Requests past the bound wait in a FIFO queue;
 * the timeout starts when the request is actually sent. Sockets are kept alive and
 * reused (one agent per provider, at most `maxConcurrent` sockets).
 *
 * Why `node:http` and not `fetch`: at 10,000 submits in a burst, undici's fetch left
 * ~20 KB of garbage per request and took the worker's RSS past 400 MB (bench/inflight.ts);
 * a plain request is a fraction of that and of the CPU.
 *
 * Transport failures become `ProviderError`s: `NETWORK` (refused, reset, timeout),
 * `HTTP_429` (capacity), `HTTP_<status>` (retry). A 200 body is handed back as text for
 * the protocol module to parse.
 */
import http from 'node:http';
import https from 'node:https';
import { scrubSecrets } from '@solvestream/core';
import { ProviderError, classifyCode } from './errors';
import { checkSendGuard } from '../send-guard';

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

/** Answers over this size are cut off as BAD_RESPONSE (a multi-get of 100 tokens is ~200 KB). */
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

export class ProviderHttp {
  private readonly url: URL;
  private readonly agent: http.Agent;
  private readonly request: typeof http.request;
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private currentKey: string;
  /** Every key this client has used: an error quoting an earlier one is scrubbed too. */
  private readonly keys: string[];

  constructor(readonly o: HttpOptions) {
    this.currentKey = o.key;
    this.keys = [o.key];
    this.url = new URL(o.baseUrl.replace(/\/+$/, ''));
    const tls = this.url.protocol === 'https:';
    this.agent = tls
      ? new https.Agent({ keepAlive: true, maxSockets: o.maxConcurrent, scheduling: 'lifo' })
      : new http.Agent({ keepAlive: true, maxSockets: o.maxConcurrent, scheduling: 'lifo' });
    this.request = tls ? https.request : http.request;
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

  /** POSTs `body` to `path` and returns the text of a 200 answer; anything else throws a ProviderError. */
  async post(path: string, body: Body): Promise<string> {
    await this.acquire();
    let answer: { status: number; text: string };
    try {
      await checkSendGuard(); // the task may have been reclaimed while this waited
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

  /** Destroys every socket, idle or busy (shutdown). */
  close(): void {
    this.agent.destroy();
  }

  private send(path: string, body: Body): Promise<{ status: number; text: string }> {
    const form = 'form' in body;
    const payload = Buffer.from(form ? new URLSearchParams(body.form).toString() : JSON.stringify(body.json));
    return new Promise((resolve, reject) => {
      const req = this.request({
        protocol: this.url.protocol, hostname: this.url.hostname, port: this.url.port, agent: this.agent, method: 'POST',
        path: this.url.pathname.replace(/\/$/, '') + path,
        headers: { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json', 'content-length': payload.length },
      }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER_BYTES) req.destroy(new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`));
          else chunks.push(c);
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', fail);
        res.on('aborted', () => fail(new Error('answer was cut off')));
      });
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${this.o.timeoutMs} ms`)), this.o.timeoutMs);
      function fail(err: Error): void {
        clearTimeout(timer);
        reject(err);
      }
      req.on('error', fail);
      req.end(payload);
    });
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
