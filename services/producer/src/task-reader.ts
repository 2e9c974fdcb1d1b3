/**
 * Reads tasks for clients: a tenant sees only its own tasks (another tenant's id reads
 * as "no such task"), and a task still open `graceMs` past its deadline is failed
 * right here with ERROR_CAPTCHA_UNSOLVABLE (expireTask.lua) before it is shown.
 *
 * Why on the read path: gateway clients poll until they get a final answer and never
 * time out on their own. The worker fails a task at its deadline, but only a task some
 * worker holds; one that sits in a lane with no live worker, or in the delayed set, has
 * nobody to end it. Any client that polls ends it here; tasks nobody polls are ended
 * by the expiry sweeper (delivery/expiry.ts).
 */
import type { Redis } from 'ioredis';
import { decodeProjection, isTerminal, type Keyspace, type TaskView, type Transitions } from '@solvestream/contracts';

export interface TaskReaderDeps {
  redis: Redis;
  keys: Keyspace;
  transitions: Transitions;
  clock: () => number;
  /** A task still open this long after its deadline is expired on read, ms. */
  graceMs: number;
}

/** The projection plus the client-API fields submit and delivery add to it. */
export interface ClientTask extends TaskView {
  source?: string;
  callbackUrl?: string;
  /** delivered | retrying | failed (set by the webhook sender). */
  webhookStatus?: string;
  webhookAttempts?: number;
  reported?: string;
}

function decode(taskId: string, h: Record<string, string>): ClientTask | undefined {
  const view: ClientTask | undefined = decodeProjection(taskId, h);
  if (!view) return undefined;
  if (h.source) view.source = h.source;
  if (h.callbackUrl) view.callbackUrl = h.callbackUrl;
  if (h.webhookStatus) view.webhookStatus = h.webhookStatus;
  if (h.webhookAttempts) view.webhookAttempts = Number(h.webhookAttempts);
  if (h.reported) view.reported = h.reported;
  return view;
}

export class TaskReader {
  constructor(private readonly d: TaskReaderDeps) {}

  /** The task if it exists and belongs to `tenant`. */
  async read(taskId: string, tenant: string): Promise<ClientTask | undefined> {
    const view = decode(taskId, await this.d.redis.hgetall(this.d.keys.task(taskId)));
    return this.finish(view, tenant);
  }

  /** `read` for many ids in one round trip (multi-id polling). */
  async readMany(taskIds: readonly string[], tenant: string): Promise<(ClientTask | undefined)[]> {
    if (taskIds.length === 0) return [];
    const p = this.d.redis.pipeline();
    for (const id of taskIds) p.hgetall(this.d.keys.task(id));
    const replies = (await p.exec()) ?? [];
    return Promise.all(
      taskIds.map((id, i) => {
        const [err, h] = replies[i] ?? [new Error('no reply'), undefined];
        if (err) throw err;
        return this.finish(decode(id, h as Record<string, string>), tenant);
      }),
    );
  }

  private async finish(view: ClientTask | undefined, tenant: string): Promise<ClientTask | undefined> {
    if (!view || view.tenant !== tenant) return undefined;
    if (isTerminal(view.status) || view.deadline === undefined) return view;
    const now = this.d.clock();
    if (view.deadline + this.d.graceMs > now) return view;
    await this.d.transitions.expire({ taskId: view.taskId, graceMs: this.d.graceMs, now });
    const again = decode(view.taskId, await this.d.redis.hgetall(this.d.keys.task(view.taskId)));
    return again && again.tenant === tenant ? again : undefined;
  }
}
