/**
 * Reclaim of stalled deliveries: entries idle in the `workers` group past the lease
 * belong to a dead or frozen worker. XAUTOCLAIM moves them to this supervisor (claiming
 * resets the idle time, so of several supervisor replicas exactly one gets each entry),
 * then `requeueTask` (mode reclaim) re-adds the task with its checkpoint — or
 * dead-letters it after too many failures — and acks the old entry, in one step.
 *
 * A claimed task with no provider checkpoint is held in the delayed set for `holdMs`
 * before its next delivery (requeueTask.lua, "Why the reclaim hold"): its stalled
 * worker may have paid for a submit it could not checkpoint before it froze; woken
 * within the hold, it writes that provider id onto the task and the next delivery polls
 * it instead of paying again. The price: tasks of a dead worker that had claimed but not
 * submitted them start `holdMs` later (after the lease they already waited).
 *
 * XAUTOCLAIM's reply on Redis ≥ 7: [next cursor, claimed entries, deleted ids]. Deleted
 * ids were pending but their entry was trimmed/deleted: Redis has already dropped them
 * from the PEL; they are reported (nothing is left to requeue from them).
 */
import type { Redis } from 'ioredis';
import type { Logger } from '@solvestream/core';
import { decodeTaskEntry, laneOf, WORKERS_GROUP, type Keyspace, type Transitions } from '@solvestream/contracts';
import { extractTrace, tracer } from '@solvestream/telemetry';
import { SpanKind, trace } from '@opentelemetry/api';

export interface ReclaimOptions {
  redis: Redis;
  keys: Keyspace;
  transitions: Transitions;
  logger: Logger;
  /** This supervisor's consumer name in the group. */
  consumer: string;
  leaseMs: number;
  maxFailures: number;
  /** Hold of a reclaimed task that was claimed and has no checkpoint, ms (see above). Default DEFAULT_RECLAIM_HOLD_MS; 0 = none. */
  holdMs?: number;
  /** Entries per XAUTOCLAIM call (Redis scans at most 10× this many PEL entries). */
  batch?: number;
  clock?: () => number;
}

/** Default reclaim hold, ms: well above the workers' CHECKPOINT_CHECK_MS (1 s), which bounds how soon a woken worker writes its kept checkpoint. */
export const DEFAULT_RECLAIM_HOLD_MS = 5000;

export interface ReclaimReport {
  /** Requeued, at once or held (`held` of them). */
  reclaimed: number;
  held: number;
  deadLettered: number;
  poison: number;
  deletedWhilePending: number;
  skipped: number;
}

type AutoClaimReply = [string, [string, string[] | null][], string[]?];

/** One full XAUTOCLAIM sweep over every lane. */
export async function reclaimStalled(o: ReclaimOptions): Promise<ReclaimReport> {
  const report: ReclaimReport = { reclaimed: 0, held: 0, deadLettered: 0, poison: 0, deletedWhilePending: 0, skipped: 0 };
  const clock = o.clock ?? Date.now;
  const holdMs = o.holdMs ?? DEFAULT_RECLAIM_HOLD_MS;
  for (const lane of o.keys.lanes) {
    let cursor = '0-0';
    // Bounded: a lane with a huge PEL is finished over the next ticks, never in one blocking burst.
    for (let round = 0; round < 50; round++) {
      const reply = (await o.redis.xautoclaim(lane, WORKERS_GROUP, o.consumer, o.leaseMs, cursor, 'COUNT', o.batch ?? 100)) as AutoClaimReply;
      const [next, entries, deleted = []] = reply;
      if (deleted.length) {
        report.deletedWhilePending += deleted.length;
        // Expected now and then: a cancel or an expiry deletes the delivery of its task
        // (cancelTask.lua), and a dead worker may have held it. Counted in the report.
        o.logger.info({ lane, ids: deleted.slice(0, 20), count: deleted.length }, 'pending entries whose payload was deleted (a cancelled or ended task, a trim); dropped from the PEL');
      }
      for (const [id, fields] of entries) {
        let decoded = fields ? decodeTaskEntry(fields) : { ok: false as const, reason: 'entry payload is gone' };
        // As the worker (worker.ts accept): an entry in the wrong lane is poison. requeueTask
        // would look for it in its priority's lane, answer NOT_PENDING, and leave it pending
        // here forever.
        if (decoded.ok && decoded.value.priority !== laneOf(o.keys, lane)) {
          decoded = { ok: false as const, reason: `priority ${decoded.value.priority} does not match lane ${lane}` };
        }
        if (!decoded.ok) {
          report.poison++;
          // Undecodable: no trace context to link to; the span still records the dead-lettering.
          const span = tracer().startSpan(`dead-letter ${lane}`, {
            kind: SpanKind.INTERNAL, root: true,
            attributes: { 'messaging.message.id': id, 'solvestream.dead_letter.reason': 'poison' },
          });
          await o.transitions.deadLetterPoison({ stream: lane, entryId: id, fields, reason: decoded.reason, consumer: o.consumer, now: clock() })
            .finally(() => span.end());
          continue;
        }
        // A span per reclaim, linked to the task's trace (not parented: the supervisor's
        // sweep is not part of the task's own timeline). The transition decides whether the
        // task is requeued or dead-lettered (too many failures); the span is renamed
        // `dead-letter <lane>` in the second case, so both show up by name in Jaeger.
        const created = trace.getSpanContext(extractTrace(decoded.value.trace));
        const span = tracer().startSpan(`reclaim ${lane}`, {
          kind: SpanKind.INTERNAL, root: true,
          links: created ? [{ context: created }] : [],
          attributes: { 'solvestream.task.id': decoded.value.taskId, 'solvestream.task.attempt': decoded.value.attempt, 'messaging.message.id': id },
        });
        let r;
        try {
          const now = clock();
          r = await o.transitions.requeue({
            entry: decoded.value, entryId: id, consumer: o.consumer, mode: 'reclaim',
            reason: `lease expired (idle > ${o.leaseMs} ms)`, maxFailures: o.maxFailures, now,
            dueAt: holdMs > 0 ? now + holdMs : undefined,
          });
          span.setAttribute('solvestream.reclaim.outcome', r.kind);
          if (r.kind === 'dead-lettered') {
            span.updateName(`dead-letter ${lane}`);
            span.setAttribute('solvestream.dead_letter.reason', 'max-failures');
          }
        } finally {
          span.end();
        }
        if (r.kind === 'requeued') report.reclaimed++;
        else if (r.kind === 'delayed') { report.reclaimed++; report.held++; }
        else if (r.kind === 'dead-lettered') report.deadLettered++;
        else report.skipped++;
        o.logger.info({ taskId: decoded.value.taskId, attempt: decoded.value.attempt, outcome: r.kind }, 'stalled task reclaimed');
      }
      cursor = next;
      if (cursor === '0-0') break;
    }
  }
  return report;
}
