/**
 * Webhook delivery: POSTs each finished task that was submitted with a `callbackUrl`
 * to that URL, signed, retried with backoff, its delivery status recorded on the task
 * (GET shows `webhook: {status, attempts}`) and in its event history. Polling always
 * keeps working as the fallback.
 *
 * Request:
 *
 *   POST <callbackUrl>
 *   content-type: application/json
 *   x-solvestream-task: <task id>
 *   x-solvestream-attempt: <n>
 *   x-solvestream-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 *
 *   {"event":"task.finished","task":{…the same resource GET /v1/tasks/:id answers…}}
 *
 * Receivers verify the signature with their webhook secret (`verifySignature` below
 * shows how), reject timestamps older than a few minutes, and dedupe by task id:
 * delivery is at least once. Any 2xx is success; anything else, a timeout or a
 * connection error is retried after `backoffMs(attempt)` (1 s doubling to 10 min, with
 * jitter) until `maxAttempts`, then given up (`webhook-abandoned`). Redirects are not
 * followed.
 *
 * Loop: every `pollMs` claim due deliveries (claimWebhooks.lua leases them, so several
 * producers never send the same one at once; a sender that dies leaves it to be
 * claimed again when the lease ends), send up to `concurrency` at a time. Errors are
 * logged and the loop goes on.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Admission, Keyspace, Transitions } from '@solvestream/contracts';
import type { Logger } from '@solvestream/core';
import type { TaskReader } from '../task-reader';
import { presentTask } from '../task-response';
import type { TenantDirectory } from '../tenants';

export const SIGNATURE_HEADER = 'x-solvestream-signature';

export function sign(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/** What a receiver does: true when `header` signs `body` with `secret` within `toleranceSeconds` of `nowSeconds`. */
export function verifySignature(secret: string, body: string, header: string, nowSeconds: number, toleranceSeconds = 300): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > toleranceSeconds || typeof parts.v1 !== 'string') return false;
  const expected = Buffer.from(sign(secret, body, t).split('v1=')[1] ?? '', 'hex');
  const got = Buffer.from(parts.v1, 'hex');
  return got.length === expected.length && timingSafeEqual(got, expected);
}

export const defaultWebhookBackoff = (attempt: number): number => {
  const exp = Math.min(600_000, 1_000 * 2 ** Math.min(attempt - 1, 20));
  return Math.round(exp / 2 + Math.random() * (exp / 2));
};

export interface WebhookSenderOptions {
  redis: Redis;
  keys: Keyspace;
  admission: Admission;
  transitions: Transitions;
  reader: TaskReader;
  tenants: TenantDirectory;
  logger: Logger;
  clock?: () => number;
  maxAttempts: number;
  timeoutMs: number;
  /** Delay before attempt `attempt + 1` after `attempt` failed, ms. */
  backoffMs?: (attempt: number) => number;
  pollMs?: number;
  concurrency?: number;
  fetchImpl?: typeof fetch;
}

export interface WebhookStats {
  delivered: number;
  failedAttempts: number;
  abandoned: number;
}

export class WebhookSender {
  private readonly clock: () => number;
  private readonly pollMs: number;
  private readonly concurrency: number;
  private readonly backoffMs: (attempt: number) => number;
  private readonly fetchImpl: typeof fetch;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  readonly stats: WebhookStats = { delivered: 0, failedAttempts: 0, abandoned: 0 };

  constructor(private readonly o: WebhookSenderOptions) {
    this.clock = o.clock ?? Date.now;
    this.pollMs = o.pollMs ?? 500;
    this.concurrency = o.concurrency ?? 20;
    this.backoffMs = o.backoffMs ?? defaultWebhookBackoff;
    this.fetchImpl = o.fetchImpl ?? fetch;
  }

  start(): this {
    this.schedule(0);
    return this;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick()
        .then(() => undefined)
        .catch((err: unknown) => this.o.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'webhook sender: tick failed'))
        .finally(() => this.schedule(this.pollMs));
    }, ms);
  }

  /** One pass: claim what is due and send it. Exposed for tests. */
  async tick(): Promise<number> {
    const now = this.clock();
    const leaseMs = this.o.timeoutMs * 2 + 5_000;
    const ids = await this.o.admission.claimWebhooks(now, now + leaseMs, this.concurrency * 5);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(this.concurrency, ids.length) }, async () => {
        while (next < ids.length) {
          const id = ids[next++] as string;
          await this.deliver(id).catch((err: unknown) =>
            this.o.logger.warn({ taskId: id, err: err instanceof Error ? err.message : String(err) }, 'webhook sender: delivery step failed; retried at lease end'),
          );
        }
      }),
    );
    return ids.length;
  }

  private async deliver(taskId: string): Promise<void> {
    const { redis, keys, transitions } = this.o;
    const tenantId = await redis.hget(keys.task(taskId), 'tenant');
    const view = tenantId === null ? undefined : await this.o.reader.read(taskId, tenantId);
    if (!view?.callbackUrl) {
      await redis.zrem(keys.webhooks, taskId); // expired or never had a callback: nothing to send
      return;
    }
    const attempt = (view.webhookAttempts ?? 0) + 1;
    const record = async (event: 'webhook-delivered' | 'webhook-failed' | 'webhook-abandoned', httpStatus?: number, error?: string): Promise<void> => {
      await transitions.recordDelivery({ taskId, event, attempt, httpStatus, error, now: this.clock() });
    };
    const secret = (await this.o.tenants.tenant(view.tenant)).webhookSecret;
    if (!secret) {
      await record('webhook-abandoned', undefined, 'no webhook secret configured for the tenant');
      await redis.zrem(keys.webhooks, taskId);
      this.stats.abandoned++;
      return;
    }
    const body = JSON.stringify({ event: 'task.finished', task: presentTask(view) });
    let status: number | undefined;
    let error: string | undefined;
    try {
      const res = await this.fetchImpl(view.callbackUrl, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.timeout(this.o.timeoutMs),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'solvestream-webhook/1',
          'x-solvestream-task': taskId,
          'x-solvestream-attempt': String(attempt),
          [SIGNATURE_HEADER]: sign(secret, body, Math.floor(this.clock() / 1000)),
        },
        body,
      });
      status = res.status;
      await res.body?.cancel().catch(() => undefined);
    } catch (err) {
      error = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
    }
    if (status !== undefined && status >= 200 && status < 300) {
      await record('webhook-delivered', status);
      await redis.zrem(keys.webhooks, taskId);
      this.stats.delivered++;
      return;
    }
    error ??= `HTTP ${status}`;
    if (attempt >= this.o.maxAttempts) {
      await record('webhook-abandoned', status, error);
      await redis.zrem(keys.webhooks, taskId);
      this.stats.abandoned++;
      this.o.logger.warn({ taskId, attempt, httpStatus: status }, 'webhook given up');
      return;
    }
    await record('webhook-failed', status, error);
    await redis.zadd(keys.webhooks, 'XX', this.clock() + this.backoffMs(attempt), taskId);
    this.stats.failedAttempts++;
  }

  /** Stops after the current pass. Safe to call twice. */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
