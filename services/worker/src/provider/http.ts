/**
 * The HTTP underneath one provider, whatever its protocol: a POST with a timeout, a
 * bound on concurrent requests, and errors that never carry the key.
 *
 * Why a bound: a worker with 10,000 tasks in flight would otherwise open 10,000 sockets
 * at once when a batch of tasks arrives (Node's fetch has no per-origin connection
 * limit). Requests past the bound wait in a FIFO queue; the timeout starts when the
 * request is actually sent.
 *
 * Transport failures become `ProviderError`s: `NETWORK` (refused, reset, timeout),
 * `HTTP_429` (capacity), `HTTP_<status>` (retry). A 200 body is handed back as text for
 * the protocol module to parse.
 */
import { scrubSecrets } from '@solvestream/core';
import { ProviderError, classifyCode } from './errors';

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

export class ProviderHttp {
  private readonly base: string;
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly o: HttpOptions) {
    this.base = o.baseUrl.replace(/\/+$/, '');
  }

  /** A classified error whose message names the provider and has the key scrubbed out. */
  error(code: string, message: string, cause?: unknown): ProviderError {
    const cls = classifyCode(code, this.o.zeroBalanceIsCapacity);
    return new ProviderError(this.o.name, code, cls, scrubSecrets(`${this.o.name}: ${message}`, [this.o.key]), cause);
  }

  /** Requests queued behind the concurrency bound (for tests and metrics). */
  get queued(): number {
    return this.waiting.length;
  }

  /** POSTs `body` to `path` and returns the text of a 200 answer; anything else throws a ProviderError. */
  async post(path: string, body: Body): Promise<string> {
    await this.acquire();
    try {
      return await this.send(path, body);
    } finally {
      this.release();
    }
  }

  private async send(path: string, body: Body): Promise<string> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method: 'POST',
        body: 'form' in body ? new URLSearchParams(body.form) : JSON.stringify(body.json),
        headers: { 'content-type': 'form' in body ? 'application/x-www-form-urlencoded' : 'application/json' },
        signal: AbortSignal.timeout(this.o.timeoutMs),
      });
    } catch (err) {
      const reason = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
      throw this.error('NETWORK', `${path} request failed: ${reason}`);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw this.error('NETWORK', `${path} answer was cut off: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (res.status === 429) throw this.error('HTTP_429', `${path} answered HTTP 429`);
    if (res.status !== 200) throw this.error(`HTTP_${res.status}`, `${path} answered HTTP ${res.status}`);
    return text;
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
