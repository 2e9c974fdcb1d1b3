/**
 * The leases of the entries this worker holds, and the check made before every paid
 * request: may it still leave?
 *
 * A lease is the entry's idle time in the group's pending list. Reading the entry
 * (XREADGROUP), claiming it (claimTask.lua) and renewing it (XCLAIM to itself, JUSTID)
 * each reset that idle time to 0; the supervisor reclaims an entry once it has been idle
 * for `leaseMs`. Every entry held here is renewed every `leaseMs / 3`.
 *
 * What this process knows about a lease is only ever as fresh as the moment it SENT the
 * command that last reset it (`leaseFrom`, on a monotonic clock): the reset happened
 * after that, so the lease runs at least until `leaseFrom + leaseMs`. Not the moment the
 * reply was read: a process frozen (SIGSTOP, a long GC, a starved VM) after Redis ran
 * the command and before the reply was handled wakes up to an answer that was true
 * before the freeze and may be false now. Two such answers once paid for solves twice
 * (chaos (b), "freeze during submits", doublePaid 6 in one run):
 *
 *   - a worker frozen between its read and its claim: the claim then ran at once on
 *     waking, found the entry still pending here (the supervisor had not swept yet),
 *     and its reply was taken for a fresh lease, while the entry had been idle since
 *     the read, past `leaseMs`: the supervisor reclaimed it a moment later, another
 *     worker submitted and checkpointed it, and this worker's submit, queued behind the
 *     HTTP bound, left on the strength of that "fresh" claim. Now the claim itself
 *     resets the idle time, and the claim's send time is the lease's start.
 *   - a worker frozen during the renewal that confirms a lease: the reply said "still
 *     yours" about a moment before the freeze. Now a confirmation counts only if its
 *     round trip took less than `leaseMs / 3`; otherwise it asks again.
 *
 * `confirm(id)` answers true only when the lease is known to have at least two thirds of
 * its length left: without a round trip when it was reset less than `leaseMs / 3` ago,
 * else after a renewal that came back in time. A renewal that fails (Redis unreachable)
 * confirms nothing: it is asked again after 100, then 200 ms; after three failures the
 * request is not sent, the task ends here as lost, and its entry is reclaimed after the
 * lease (and the reclaim hold) — a delay, never a second payment. What remains is a
 * freeze in the few microseconds between a `true` and the request's write to the socket.
 *
 * A renewal re-takes an entry the supervisor has claimed but not yet requeued (XCLAIM
 * with min-idle 0 does not ask who holds it); its requeue then finds the entry held by
 * another consumer and changes nothing, so the task still has one live delivery.
 */
import type { Redis } from 'ioredis';
import { WORKERS_GROUP, type TaskEntry } from '@solvestream/contracts';
import type { Logger } from '@solvestream/core';
import { LeaseLoss } from './solve';

export interface LeasesOptions {
  /** The worker's command connection. */
  redis: Redis;
  consumer: string;
  /** The lease, ms: the supervisor reclaims an entry idle this long. */
  leaseMs: number;
  logger: Logger;
  /** A monotonic clock, ms. Default `performance.now` (a wall clock can step backwards). */
  clock?: () => number;
}

export interface Held {
  lane: string;
  entry: TaskEntry;
  /** Local time (`clock`) at which the command that last reset the entry's idle time was sent. */
  leaseFrom: number;
  lost: LeaseLoss;
}

/** Entries per XCLAIM of a renewal. */
const RENEW_CHUNK = 500;
/** Renewals a confirmation may take before it gives up (each one came back too late). */
const CONFIRM_TRIES = 3;

export class Leases {
  private readonly held = new Map<string, Held>();
  private readonly clock: () => number;

  constructor(private readonly o: LeasesOptions) {
    this.clock = o.clock ?? (() => performance.now());
  }

  /** Now, on the lease clock: take it BEFORE sending a command that resets idle times. */
  now(): number {
    return this.clock();
  }

  get size(): number {
    return this.held.size;
  }

  /** How often every held entry is renewed: a third of the lease (at least 50 ms). */
  get renewEveryMs(): number {
    return Math.max(50, Math.floor(this.o.leaseMs / 3));
  }

  /** Starts holding an entry whose claim was sent at `leaseFrom` (from `now()`). */
  hold(id: string, lane: string, entry: TaskEntry, leaseFrom: number): Held {
    const h: Held = { lane, entry, leaseFrom, lost: new LeaseLoss() };
    this.held.set(id, h);
    return h;
  }

  get(id: string): Held | undefined {
    return this.held.get(id);
  }

  release(id: string): void {
    this.held.delete(id);
  }

  /**
   * Renews every held entry, or only `ids` (one XCLAIM … JUSTID per lane and chunk).
   * Entries not returned are no longer ours: their `lost` is set. Returns the ids renewed;
   * `failed` when a call did not go through (nothing is known of its entries, and nothing
   * is marked lost: Redis unreachable for us may be unreachable for the supervisor too).
   */
  async renew(ids?: readonly string[]): Promise<{ kept: Set<string>; failed: boolean }> {
    const byLane = new Map<string, string[]>();
    const add = (id: string, h: Held): void => {
      const list = byLane.get(h.lane);
      if (list) list.push(id);
      else byLane.set(h.lane, [id]); // (copying the list per entry made a renewal O(n²) in held entries)
    };
    if (ids) {
      for (const id of ids) {
        const h = this.held.get(id);
        if (h) add(id, h);
      }
    } else {
      for (const [id, h] of this.held) add(id, h);
    }
    const kept = new Set<string>();
    try {
      for (const [lane, laneIds] of byLane) {
        for (let i = 0; i < laneIds.length; i += RENEW_CHUNK) {
          const chunk = laneIds.slice(i, i + RENEW_CHUNK);
          const sentAt = this.clock();
          const got = (await this.o.redis.xclaim(lane, WORKERS_GROUP, this.o.consumer, 0, ...chunk, 'JUSTID')) as string[];
          for (const g of got) kept.add(g);
          for (const id of chunk) {
            const h = this.held.get(id);
            if (!h) continue;
            if (kept.has(id)) {
              if (sentAt > h.leaseFrom) h.leaseFrom = sentAt;
            } else if (!h.lost.lost) {
              this.o.logger.warn({ taskId: h.entry.taskId, entryId: id }, 'lease lost: the entry was reclaimed; abandoning the task here');
              h.lost.set();
            }
          }
        }
      }
    } catch (err) {
      this.o.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'lease renewal failed');
      return { kept, failed: true };
    }
    return { kept, failed: false };
  }

  /** True when a paid request for entry `id` may leave now (see the module comment). */
  async confirm(id: string): Promise<boolean> {
    for (let tries = 0; ; tries++) {
      const h = this.held.get(id);
      if (!h || h.lost.lost) return false;
      if (this.clock() - h.leaseFrom < this.o.leaseMs / 3) return true;
      if (tries === CONFIRM_TRIES) return false;
      // Sets leaseFrom to this renewal's send time when it keeps the entry; the next
      // turn then says yes only if the answer came back in time.
      const r = await this.renew([id]);
      if (r.failed) {
        // Redis unreachable for a moment: ask again shortly (100, 200, 400 ms) before
        // giving up; given up, the task waits out its lease and the reclaim hold.
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** tries));
        continue;
      }
      if (!r.kept.has(id)) return false;
    }
  }
}
