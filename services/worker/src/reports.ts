/**
 * Forwards clients' verdicts (gateway `reportgood` / `reportbad`) to the provider that
 * solved the task. Provider keys live only in workers, so the producer queues reports on
 * the `reports` stream (contracts/reports.ts) and every worker reads it through the
 * consumer group `reporters`.
 *
 * Loop: XREADGROUP (BLOCK) → `router.report(provider, id, type, verdict)` → XACK.
 * - A provider refusal (duplicate, too late, unknown id) is final: acked.
 * - A transient failure (network, 5xx, busy) leaves the entry pending; entries idle for
 *   `retryAfterMs` are taken over again with XAUTOCLAIM (by any worker), so a report is
 *   forwarded at least once and never lost with a dead worker.
 * - An undecodable entry or one without a provider is acked at once (nothing to forward).
 */
import type { Redis } from 'ioredis';
import type { Logger } from '@solvestream/core';
import { decodeReportEntry, flattenReadReply, type Keyspace } from '@solvestream/contracts';
import { ProviderError } from './provider/errors';
import type { ProviderRouter } from './provider/router';

export const REPORTERS_GROUP = 'reporters';

export interface ReportForwarderOptions {
  redis: Redis;
  blockingRedis: Redis;
  keys: Keyspace;
  router: Pick<ProviderRouter, 'report'>;
  logger: Logger;
  consumer: string;
  blockMs?: number;
  /** A pending report idle this long is retried (by any worker), ms. Default 30,000. */
  retryAfterMs?: number;
}

export class ReportForwarder {
  private stopped = false;
  private done: Promise<void> | undefined;
  readonly stats = { forwarded: 0, refused: 0, skipped: 0, failed: 0 };

  constructor(private readonly o: ReportForwarderOptions) {}

  start(): void {
    this.done = this.loop();
  }

  private async ensureGroup(): Promise<void> {
    try {
      await this.o.redis.xgroup('CREATE', this.o.keys.reports, REPORTERS_GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('BUSYGROUP')) throw err;
    }
  }

  private async loop(): Promise<void> {
    let failures = 0;
    let lastRetrySweep = 0;
    while (!this.stopped) {
      try {
        await this.ensureGroup();
        const retryAfter = this.o.retryAfterMs ?? 30_000;
        if (Date.now() - lastRetrySweep > retryAfter / 2) {
          lastRetrySweep = Date.now();
          const [, claimed] = (await this.o.redis.xautoclaim(this.o.keys.reports, REPORTERS_GROUP, this.o.consumer, retryAfter, '0-0', 'COUNT', 50)) as [string, [string, string[] | null][]];
          for (const [id, fields] of claimed) await this.handle(id, fields);
        }
        const reply = await this.o.blockingRedis.xreadgroup('GROUP', REPORTERS_GROUP, this.o.consumer, 'COUNT', 50, 'BLOCK', this.o.blockMs ?? 2000, 'STREAMS', this.o.keys.reports, '>');
        for (const e of flattenReadReply(reply)) await this.handle(e.id, e.fields);
        failures = 0;
      } catch (err) {
        if (this.stopped) break;
        failures++;
        this.o.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'report forwarding loop error; backing off');
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** failures)));
      }
    }
  }

  private async handle(id: string, fields: string[] | null): Promise<void> {
    const d = fields ? decodeReportEntry(fields) : { ok: false as const, reason: 'entry payload is gone' };
    if (!d.ok || !d.value.provider || !d.value.providerTaskId) {
      this.stats.skipped++;
      if (!d.ok) this.o.logger.warn({ entryId: id, reason: d.reason }, 'undecodable report dropped');
      await this.o.redis.xack(this.o.keys.reports, REPORTERS_GROUP, id);
      return;
    }
    const r = d.value;
    try {
      await this.o.router.report(r.provider, r.providerTaskId, r.type, r.verdict);
      this.stats.forwarded++;
      this.o.logger.info({ taskId: r.taskId, provider: r.provider, verdict: r.verdict }, 'report forwarded');
    } catch (err) {
      if (err instanceof ProviderError && err.errorClass === 'permanent') {
        this.stats.refused++;
        this.o.logger.info({ taskId: r.taskId, provider: r.provider, code: err.code }, 'provider refused the report');
      } else {
        // Left pending: retried after retryAfterMs by whichever worker sweeps first.
        this.stats.failed++;
        this.o.logger.warn({ taskId: r.taskId, provider: r.provider, err: err instanceof Error ? err.message : String(err) }, 'report not forwarded yet');
        return;
      }
    }
    await this.o.redis.xack(this.o.keys.reports, REPORTERS_GROUP, id);
  }

  /** Stops the loop (its blocking connection is closed by the owner). Safe to call twice. */
  async close(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}
