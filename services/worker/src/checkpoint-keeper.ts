/**
 * Keeps every provider checkpoint this worker paid for until its task has an outcome,
 * and writes it again when the copy in Redis may be gone. Without it, one solve is paid
 * twice when Redis loses data: the worker submits, writes the checkpoint, Redis is wiped
 * before dr-recovery archived that event (the archive lags by tens of ms), the restored
 * task has no provider id, and its next delivery submits again.
 *
 * An entry is `unrecorded` (the write has not succeeded: the call failed, or it found no
 * projection because Redis was empty) or `recorded`.
 *
 * Loop (every `intervalMs`, default 1 s; one GET plus one pipeline, never overlapping):
 *   1. Read the dr-recovery epoch marker. When it differs from the last one seen (gone:
 *      Redis was wiped; another value: a restore finished), every entry becomes
 *      `unrecorded` — what was written before may not have survived.
 *   2. Reassert every `unrecorded` entry (checkpointTask in reassert mode: written only
 *      where the task names no provider id yet). `recorded` / `present` → recorded;
 *      `terminal` → dropped; `missing` (not restored yet) or an error → next round.
 *   3. Drop entries past their task's deadline (nobody polls them any more).
 *
 * dr-recovery holds a restored task that has no checkpoint out of the lanes for
 * RESTORE_HOLD_MS (default 5 s) before it can be delivered again, so one or two rounds of
 * this loop land the checkpoint first and the next delivery polls the paid-for id.
 *
 * `forget` is called when the task's outcome (or retry) is settled; a lost lease keeps
 * the entry (the task lives on elsewhere and may yet need the id) until the deadline.
 * Keys are task ids; memory is one small object per task in flight here.
 */
import type { Redis } from 'ioredis';
import type { CheckpointInput, Keyspace, Transitions } from '@solvestream/contracts';
import { PeriodicCheck, type Logger } from '@solvestream/core';

export interface CheckpointKeeperOptions {
  redis: Redis;
  keys: Keyspace;
  transitions: Transitions;
  logger: Logger;
  consumer: string;
  clock: () => number;
  /** Default 1,000 ms. */
  intervalMs?: number;
  /** Called with the number of checkpoints written again in one round (metrics). */
  onReasserted?: (n: number) => void;
}

interface Kept {
  provider: string;
  providerTaskId: string;
  attempt: number;
  deadline: number;
  recorded: boolean;
}

export class CheckpointKeeper {
  private readonly kept = new Map<string, Kept>();
  private readonly loop: PeriodicCheck;
  /** Last epoch marker seen; undefined before the first read. */
  private marker: string | null | undefined;
  private lastErrorAt = 0;
  /** Checkpoints written again since start (tests, status). */
  reasserted = 0;

  constructor(private readonly o: CheckpointKeeperOptions) {
    this.loop = new PeriodicCheck(() => this.round(), o.intervalMs ?? 1000);
  }

  get size(): number {
    return this.kept.size;
  }

  /** The provider accepted `taskId` under this id; call BEFORE writing the checkpoint. */
  remember(taskId: string, c: { provider: string; providerTaskId: string; attempt: number; deadline: number }): void {
    this.kept.set(taskId, { ...c, recorded: false });
  }

  /** The checkpoint of `taskId` is in Redis (written, or read back on a resume). */
  recorded(taskId: string, c?: { provider: string; providerTaskId: string; attempt: number; deadline: number }): void {
    const k = this.kept.get(taskId);
    if (k) k.recorded = true;
    else if (c) this.kept.set(taskId, { ...c, recorded: true });
  }

  /** The task's outcome (or its retry) is written: nothing to keep. */
  forget(taskId: string): void {
    this.kept.delete(taskId);
  }

  /** Reads the marker once now (so a wipe right after start is noticed), then every interval. */
  start(): void {
    void this.loop.start();
  }

  close(): void {
    this.loop.close();
  }

  /** One round of the loop (see the module docblock). Never throws; never overlaps. */
  check(): Promise<void> {
    return this.loop.check();
  }

  private async round(): Promise<void> {
    try {
      const marker = await this.o.redis.get(this.o.keys.drEpoch);
      if (this.marker !== undefined && marker !== this.marker) {
        let n = 0;
        for (const k of this.kept.values()) if (k.recorded) { k.recorded = false; n++; }
        if (n > 0) this.o.logger.warn({ was: this.marker, now: marker, checkpoints: n }, 'the dr-recovery epoch marker changed (Redis wiped or restored): writing held checkpoints again');
      }
      this.marker = marker;
      const now = this.o.clock();
      const due: [string, Kept][] = [];
      for (const [taskId, k] of this.kept) {
        if (now >= k.deadline) this.kept.delete(taskId);
        else if (!k.recorded) due.push([taskId, k]);
      }
      for (let i = 0; i < due.length; i += 500) await this.reassert(due.slice(i, i + 500), now);
    } catch (err) {
      if (Date.now() - this.lastErrorAt > 10_000) {
        this.lastErrorAt = Date.now();
        this.o.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'checkpoint check failed; trying again next round');
      }
    }
  }

  private async reassert(batch: [string, Kept][], now: number): Promise<void> {
    const inputs: CheckpointInput[] = batch.map(([taskId, k]) => ({
      taskId, provider: k.provider, providerTaskId: k.providerTaskId, attempt: k.attempt, consumer: this.o.consumer, now,
    }));
    const replies = await this.o.transitions.reassertCheckpoints(inputs);
    let written = 0;
    replies.forEach((r, i) => {
      const [taskId, k] = batch[i] as [string, Kept];
      if (r === 'recorded' || r === 'present') k.recorded = true;
      else if (r === 'terminal') this.kept.delete(taskId);
      if (r === 'recorded') {
        written++;
        this.o.logger.info({ taskId, provider: k.provider, providerTaskId: k.providerTaskId }, 'checkpoint written again');
      }
    });
    if (written > 0) {
      this.reasserted += written;
      this.o.onReasserted?.(written);
    }
  }
}
