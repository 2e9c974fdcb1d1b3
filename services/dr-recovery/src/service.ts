/**
 * The dr-recovery loop: archive every stream, notice a lost Redis, restore or halt.
 *
 * States
 *   ARCHIVING  XREAD (BLOCK, COUNT) from the last archived id of every stream → check the
 *              epoch marker → append the batch to the archive (fsync, manifest)
 *   RESTORING  (auto mode) the marker vanished: restore in merge mode, alert, back to ARCHIVING
 *   HALTED     (manual mode, or a refused restore) nothing is archived, so the archive is
 *              not polluted by an empty or foreign Redis; polls the marker and resumes once
 *              it names this archive again (an operator ran `dr restore`)
 *   STOPPED    close() was called
 *
 * Guarantees
 *   - A batch is appended only if the marker still names this archive AFTER the XREAD
 *     that read it, so no entry read from a wiped-and-refilled Redis reaches the archive
 *     (only dr-recovery writes the marker).
 *   - Lag: a batch is fsynced as soon as XREAD returns it; XREAD blocks at most `blockMs`.
 *   - Retention (when configured): every `compactEveryMs` a compaction of the segments
 *     past the retention runs beside the loop (compact.ts), never while HALTED.
 *   - Errors (Redis down, disk full) never kill the loop: it logs, backs off (100 ms → 5 s)
 *     and retries from the manifest's cursors, which only move after a durable append.
 */
import type { Redis } from 'ioredis';
import { appendAlert, flattenReadReply, type Keyspace } from '@solvestream/contracts';
import type { Logger } from '@solvestream/core';
import { ArchiveWriter, readArchive } from './archive';
import { compactArchive, type CompactResult } from './compact';
import type { GroupPosition } from './manifest';
import { markerArchiveId, markerValue, restore, RestoreRefusedError, type RestoreReport } from './restore';
import type { ArchivedEntry } from './segment';
import { archivedStreams, type ArchivedStream } from './streams';

export type DrMode = 'auto' | 'manual';
export type DrState = 'STARTING' | 'ARCHIVING' | 'RESTORING' | 'HALTED' | 'STOPPED';

export interface DrServiceOptions {
  /** Commands (marker, groups, restore, alerts). */
  redis: Redis;
  /** A dedicated connection for XREAD BLOCK. */
  reader: Redis;
  keys: Keyspace;
  writer: ArchiveWriter;
  logger: Logger;
  mode: DrMode;
  /** Instance id, used as the alert source. */
  instance: string;
  /** Max entries per stream per XREAD. Default 1000. */
  batch?: number;
  /** XREAD BLOCK, ms; also bounds detection latency on an idle system. Default 250. */
  blockMs?: number;
  /** How often consumer-group positions are recorded, ms. Default 5000. */
  groupsEveryMs?: number;
  /** Projection TTL after an outcome, s (match the services). Default 86,400. */
  resultTtlSeconds?: number;
  /** Hold of restored tasks without a checkpoint, ms (restore.ts `holdMs`). Default 5,000. */
  restoreHoldMs?: number;
  /**
   * Retention, ms: finished tasks whose outcome is older than this leave the archive
   * (compact.ts); unfinished tasks always stay. 0 or absent: keep everything.
   */
  retentionMs?: number;
  /** How often compaction runs (in the background; archiving goes on), ms. Default 600,000. */
  compactEveryMs?: number;
  /** Called after every compaction run that changed the archive. */
  onCompact?: (r: CompactResult & { compacted: true }) => void;
  /** Called with every appended batch's lag (ms between the oldest entry's id time and its fsync). */
  onBatch?: (entries: number, lagMs: number) => void;
  now?: () => number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const idMs = (id: string): number => Number(id.split('-')[0]);

export class DrService {
  state: DrState = 'STARTING';
  /** Why the service is HALTED (for /health and logs). */
  haltReason = '';
  lastLoopAt = 0;
  lastLagMs = 0;
  archived = 0;
  lastRestore: RestoreReport | undefined;
  private loop: Promise<void> | undefined;
  private readonly streams: ArchivedStream[];
  private readonly now: () => number;
  private groupsAt = 0;
  private compactAt = 0;
  private compacting: Promise<void> | undefined;
  private readonly stopCompaction = new AbortController();

  constructor(private readonly o: DrServiceOptions) {
    this.streams = archivedStreams(o.keys);
    this.now = o.now ?? Date.now;
  }

  /** Checks the marker once (see `startupCheck`) and starts the loop. */
  async start(): Promise<void> {
    await this.startupCheck();
    this.loop = this.run();
  }

  /**
   * One-shot archive (`dr backup`): the start-up check, then XREAD until a read brings
   * nothing new. Returns the entries appended; throws with the reason if it halts.
   */
  async catchUp(): Promise<number> {
    await this.startupCheck();
    let total = 0;
    while (this.state === 'ARCHIVING') {
      const n = await this.archiveOnce();
      total += n;
      if (n === 0) break;
    }
    await this.recordGroups();
    if (this.state === 'HALTED') throw new Error(this.haltReason);
    return total;
  }

  /**
   * On start: no marker + empty archive → first run, write the marker; no marker + an
   * archive with data → Redis was lost while we were down; a marker naming another
   * archive → halt (two archives must not interleave one Redis).
   */
  private async startupCheck(): Promise<void> {
    const { redis, keys, writer } = this.o;
    const marker = await redis.get(keys.drEpoch);
    const id = writer.manifest.archiveId;
    if (marker === null) {
      if (Object.keys(writer.manifest.cursors).length === 0) {
        await redis.set(keys.drEpoch, markerValue(id, this.now()), 'NX');
        this.state = 'ARCHIVING';
        this.o.logger.info({ archiveId: id }, 'new archive: epoch marker written');
        return;
      }
      await this.onLoss('the epoch marker is missing at start-up (Redis was wiped or replaced while dr-recovery was down)');
      return;
    }
    if (markerArchiveId(marker) !== id) {
      await this.halt(`the epoch marker ${marker} names another archive (this one is ${id})`);
      return;
    }
    this.state = 'ARCHIVING';
  }

  private async run(): Promise<void> {
    let backoff = 100;
    while (this.state !== 'STOPPED') {
      this.lastLoopAt = this.now();
      try {
        if (this.state === 'HALTED') await this.whileHalted();
        else await this.archiveOnce();
        this.maybeCompact();
        backoff = 100;
      } catch (err) {
        if ((this.state as DrState) === 'STOPPED') break;
        this.o.logger.error({ err: (err as Error).message, state: this.state }, 'dr loop error; backing off');
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  /** One XREAD → check → append step. */
  async archiveOnce(): Promise<number> {
    const { reader, writer } = this.o;
    const ids = this.streams.map((s) => writer.cursor(s.name));
    const reply = await reader.xread('COUNT', this.o.batch ?? 1000, 'BLOCK', this.o.blockMs ?? 250, 'STREAMS', ...this.streams.map((s) => s.key), ...ids);
    if (this.state !== 'ARCHIVING') return 0;
    const loss = await this.checkEpoch();
    if (loss) {
      await this.onLoss(loss);
      return 0;
    }
    const nameOf = new Map(this.streams.map((s) => [s.key, s.name]));
    const entries: ArchivedEntry[] = [];
    for (const e of flattenReadReply(reply)) {
      const name = nameOf.get(e.stream);
      if (name && e.fields) entries.push({ stream: name, id: e.id, fields: e.fields });
    }
    let n = 0;
    if (entries.length > 0) {
      n = writer.append(entries);
      const oldest = Math.min(...entries.map((e) => idMs(e.id)));
      this.lastLagMs = Math.max(0, this.now() - oldest);
      this.archived += n;
      this.o.onBatch?.(n, this.lastLagMs);
    }
    if (this.now() - this.groupsAt >= (this.o.groupsEveryMs ?? 5000)) await this.recordGroups();
    return n;
  }

  /**
   * Starts a compaction in the background when one is due (never two at once). It reads
   * sealed segments only and commits with one manifest save, so the archive loop keeps
   * appending meanwhile; a failure is logged and retried at the next interval.
   */
  private maybeCompact(): void {
    const retention = this.o.retentionMs ?? 0;
    if (retention <= 0 || this.compacting || this.state !== 'ARCHIVING') return;
    const now = this.now();
    if (now - this.compactAt < (this.o.compactEveryMs ?? 600_000)) return;
    this.compactAt = now;
    this.compacting = this.compactNow(now - retention)
      .then((r) => {
        if (r.compacted) {
          this.o.logger.info({ ...r.summary, ms: r.ms }, 'archive compacted');
          this.o.onCompact?.(r);
        }
      }, (err: Error) => {
        if (this.state !== 'STOPPED') this.o.logger.error({ err: err.message }, 'archive compaction failed; retrying at the next interval');
      })
      .finally(() => { this.compacting = undefined; });
  }

  /** One compaction run now, with the given cutoff (epoch ms). */
  compactNow(cutoff: number): Promise<CompactResult> {
    return compactArchive(this.o.writer, { cutoff, now: this.now, signal: this.stopCompaction.signal });
  }

  /** Undefined when Redis still holds this archive's epoch; else why not. */
  private async checkEpoch(): Promise<string | undefined> {
    const { redis, keys, writer } = this.o;
    const [[, marker], [, eventsExist]] = (await redis.multi().get(keys.drEpoch).exists(keys.events).exec()) as [[null, string | null], [null, number]];
    if (marker === null) return 'the epoch marker vanished (Redis was wiped or replaced)';
    if (markerArchiveId(marker) !== writer.manifest.archiveId) return `the epoch marker now names another archive (${marker})`;
    if (writer.cursor('events') !== '0-0' && eventsExist === 0) return 'the events stream vanished while the marker stayed';
    return undefined;
  }

  private async recordGroups(): Promise<void> {
    this.groupsAt = this.now();
    const groups: Record<string, GroupPosition[]> = {};
    for (const s of this.streams) {
      try {
        const rows = (await this.o.redis.xinfo('GROUPS', s.key)) as (string | number)[][];
        const list = rows.map((row) => {
          const g: Record<string, string> = {};
          for (let i = 0; i + 1 < row.length; i += 2) g[String(row[i])] = String(row[i + 1]);
          return { name: g.name ?? '', lastDeliveredId: g['last-delivered-id'] ?? '0-0' };
        });
        if (list.length > 0) groups[s.name] = list;
      } catch {
        /* no such stream yet */
      }
    }
    if (JSON.stringify(groups) !== JSON.stringify(this.o.writer.manifest.groups)) this.o.writer.recordGroups(groups);
  }

  /** Redis lost its data: restore at once (auto) or halt and say why (manual). */
  async onLoss(reason: string): Promise<void> {
    const { logger, mode } = this.o;
    if (mode === 'manual') {
      await this.halt(`${reason}; DR_MODE=manual: archiving stopped, run \`dr restore\``);
      return;
    }
    this.state = 'RESTORING';
    logger.warn({ reason }, 'Redis data loss detected: restoring from the archive');
    try {
      const report = await restore({
        redis: this.o.redis, keys: this.o.keys, archive: readArchive(this.o.writer.dir), mode: 'merge',
        resultTtlSeconds: this.o.resultTtlSeconds, holdMs: this.o.restoreHoldMs, now: this.now,
      });
      this.lastRestore = report;
      logger.warn({ ...report, unrecoverable: report.unrecoverable.length }, 'restored from the archive');
      await this.alert('dr-restored', `${reason}; restored ${report.terminal} finished and requeued ${report.requeued} unfinished tasks in ${report.ms} ms`, {
        reason, terminal: report.terminal, requeued: report.requeued, unrecoverable: report.unrecoverable.length, ms: report.ms,
      });
      if (this.state === 'RESTORING') this.state = 'ARCHIVING';
    } catch (err) {
      const why = err instanceof RestoreRefusedError ? err.message : `restore failed: ${(err as Error).message}`;
      await this.halt(`${reason}; ${why}`);
    }
  }

  private async halt(reason: string): Promise<void> {
    if (this.state === 'STOPPED') return;
    this.state = 'HALTED';
    this.haltReason = reason;
    this.o.logger.error({ reason }, 'dr-recovery halted: not archiving');
    await this.alert('dr-halted', reason, { mode: this.o.mode }).catch(() => undefined);
  }

  /** HALTED: resume once the marker names this archive again (someone ran `dr restore`). */
  private async whileHalted(): Promise<void> {
    await sleep(this.o.blockMs ?? 250);
    const marker = await this.o.redis.get(this.o.keys.drEpoch);
    if (marker !== null && markerArchiveId(marker) === this.o.writer.manifest.archiveId && this.state === 'HALTED') {
      this.o.logger.info({ marker }, 'the epoch marker names this archive again: archiving resumes');
      this.state = 'ARCHIVING';
      this.haltReason = '';
    }
  }

  private async alert(kind: string, message: string, data: Record<string, string | number | boolean | null>): Promise<void> {
    await appendAlert(this.o.redis, this.o.keys, { kind, source: this.o.instance, message: message.slice(0, 1000), at: this.now(), data });
  }

  /** Stops the loop and closes the archive. Safe to call twice. */
  async close(): Promise<void> {
    if (this.state === 'STOPPED') return;
    this.state = 'STOPPED';
    this.stopCompaction.abort();
    this.o.reader.disconnect();
    await this.loop?.catch(() => undefined);
    await this.compacting;
    this.o.writer.close();
  }
}
