/**
 * Restore: rebuild a partition from the archive into a Redis that lost it.
 *
 * Preconditions (checked before anything is written; a refusal says why and writes nothing):
 *   - the epoch marker is absent (a present marker means this Redis was not wiped, or was
 *     already restored: restoring again would duplicate history);
 *   - strict (the CLI default): the partition holds no task state: nothing but empty
 *     streams and their groups (workers recreate them right after a wipe), heartbeats,
 *     alerts, control and the mode hash (all written by live services within seconds);
 *   - merge (auto mode, `--merge`): the partition may also hold what live services wrote
 *     after the wipe, as long as no live stream entry is older than the archive's newest
 *     entry of that stream (else the two histories cannot be interleaved by id).
 *
 * Steps:
 *   1. history streams (events, results, dead-letter, control, alerts, config): every
 *      archived entry with its ORIGINAL id into a staging stream (chunked), then one
 *      atomic script swaps it in with the entries written after the wipe behind it
 *      (restoreStream.lua; live writers never abort it, so a restore under load does not
 *      fail); consumer groups of the stream are recreated where they were (live position
 *      if the group exists now, else the archived position);
 *   2. per chunk of tasks, one script (restoreTasks.lua): projection + (unfinished) its
 *      requeued lane entry; a projection that exists already is left alone when it is
 *      terminal or a lane entry backs it (so an interrupted restore can be re-run), and
 *      otherwise (a worker rebuilt it from a stale delivery after the wipe) replaced by
 *      the archived outcome or given its requeued entry and checkpoint (see the script);
 *      A requeued task with no checkpoint is held in the delayed set for `holdMs` (default
 *      5 s) instead: a worker may hold a checkpoint the archive never saw, and writes it
 *      again when it sees the epoch marker change (worker checkpoint-keeper.ts); the
 *      supervisor promotes the task when due, and its next delivery polls that id
 *      instead of paying for a second solve;
 *   2b. every idempotency key whose TTL has not run out, mapped to its task again (NX);
 *   3. the `workers` group on every lane, `id-seq` raised past every archived numeric id;
 *   4. the epoch marker, last: a restore that dies before it is simply run again.
 *
 * Deterministic: restoring the same archive into two empty Redis servers yields the same
 * keys and values (requeued lane entries get ids `<archive max ms + 1>-<n>` unless a live
 * writer is already past that id in their lane; held tasks are due at restore time + holdMs). Idempotency keys come back
 * from the `submitted` events (step 2b). Not restored (not in any stream): the delayed set as it was (due retries are requeued at once, or held as above), open-task
 * sets, stats, webhooks, tenants, api keys.
 */
import type { Redis } from 'ioredis';
import { ensureWorkerGroups, type Keyspace } from '@solvestream/contracts';
import { readArchive, type ArchiveRead } from './archive';
import { runScript } from './scripts';
import { foldArchive, type RestorePlan } from './fold';
import type { GroupPosition } from './manifest';
import type { ArchivedEntry } from './segment';
import { archivedStreams, compareIds, HISTORY_STREAMS } from './streams';

export type RestoreMode = 'strict' | 'merge';

export interface RestoreOptions {
  redis: Redis;
  keys: Keyspace;
  /** Archive directory, or an archive already read. */
  archive: string | ArchiveRead;
  mode?: RestoreMode;
  /** Seconds a terminal projection lives after its outcome (match the services). 0 = forever. Default 86,400. */
  resultTtlSeconds?: number;
  now?: () => number;
  /** Tasks per restoreTasks.lua call (and entries per staging pipeline). Default 2,000. */
  chunk?: number;
  /**
   * How long a requeued task without a checkpoint waits in the delayed set before it can
   * be delivered, ms, so live workers can write back checkpoints the archive missed
   * (see step 2). 0 = straight to the lanes. Default 5,000; keep it well above the
   * workers' CHECKPOINT_CHECK_MS.
   */
  holdMs?: number;
}

export const DEFAULT_RESTORE_HOLD_MS = 5000;

export interface RestoreReport {
  archiveId: string;
  marker: string;
  mode: RestoreMode;
  streams: Record<string, number>;
  /** Entries written after the wipe that were kept behind the restored history. */
  liveKept: Record<string, number>;
  terminal: number;
  requeued: number;
  /** Projections already present and left alone: terminal, or backed by a lane entry (post-wipe tasks, an earlier interrupted restore). */
  skipped: number;
  /**
   * Live, non-terminal projections of tasks the archive knows as finished, replaced by the
   * archived outcome (a worker rebuilt them from a stale delivery after the wipe). Counted in `terminal` too.
   */
  overwritten: number;
  /**
   * Live projections of unfinished tasks that no lane entry backed (rebuilt by a worker
   * after the wipe), given their requeued entry and archived checkpoint. Counted in `requeued` too.
   */
  adopted: number;
  /** Requeued (or adopted) tasks without a checkpoint, held in the delayed set for `holdMs`. */
  held: number;
  /** Idempotency keys mapped to their task again (those not yet expired, and not taken by a live submit). */
  idempotencyKeys: number;
  /** Terminal projections past their TTL, not written (they would have expired anyway). */
  expired: number;
  unrecoverable: string[];
  ms: number;
  /** Where the time went, ms: reading the archive (0 when handed in), folding it, history streams, tasks. */
  phaseMs?: { read: number; fold: number; streams: number; tasks: number };
}

export class RestoreRefusedError extends Error {
  override readonly name = 'RestoreRefusedError';
  constructor(readonly reasons: string[]) {
    super(`restore refused: ${reasons.join('; ')}`);
  }
}

const CHUNK = 2000;

async function scanPartition(redis: Redis, keys: Keyspace): Promise<string[]> {
  const pattern = `${keys.prefix}:{${keys.partition}}:*`.replace(/([\\[\]?*{}])/g, '\\$1').replace(/\\\*$/, '*');
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    out.push(...batch);
  } while (cursor !== '0');
  return out.sort();
}

/** Why a restore into this Redis would be refused (empty list: it may proceed). */
export async function assessTarget(redis: Redis, keys: Keyspace, plan: RestorePlan, mode: RestoreMode): Promise<string[]> {
  const reasons: string[] = [];
  const marker = await redis.get(keys.drEpoch);
  if (marker !== null) reasons.push(`${keys.drEpoch} is set (${marker}): this Redis was not wiped or is already restored`);
  const blockers: string[] = [];
  // Written by live services within seconds of a wipe, and no task state: strict mode lets them be.
  const tolerated = new Set([keys.heartbeats, keys.alerts, keys.control]);
  const streamKeys = new Map(archivedStreams(keys).map((s) => [s.key, s.name]));
  const staging = keys.drStaging('');
  // staging: left by an interrupted restore, replaced by this one
  const found = (await scanPartition(redis, keys)).filter((key) => key !== keys.drEpoch && !key.startsWith(staging));
  const types: string[] = [];
  for (let i = 0; i < found.length; i += CHUNK) {
    const p = redis.pipeline();
    for (const key of found.slice(i, i + CHUNK)) p.type(key);
    for (const [err, t] of (await p.exec()) ?? []) types.push(err ? 'none' : String(t));
  }
  for (const [i, key] of found.entries()) {
    const type = types[i] as string;
    if (type === 'stream') {
      const len = await redis.xlen(key);
      if (len === 0) continue;
      if (mode === 'strict' && !tolerated.has(key)) { blockers.push(`${key} (stream, ${len} entries)`); continue; }
      const name = streamKeys.get(key);
      const archived = name ? plan.history.get(name) : undefined;
      const last = archived?.at(-1)?.id;
      if (last) {
        const first = ((await redis.xrange(key, '-', '+', 'COUNT', 1)) as [string, string[]][])[0]?.[0];
        const known = new Set(archived?.map((e) => e.id));
        if (first && compareIds(first, last) <= 0 && !known.has(first)) {
          blockers.push(`${key} holds entry ${first}, older than the archive's newest ${last} and not in the archive`);
        }
      }
      continue;
    }
    if (mode === 'strict' && key !== keys.mode) blockers.push(`${key} (${type})`);
  }
  if (blockers.length > 0) {
    const shown = blockers.slice(0, 10).join(', ') + (blockers.length > 10 ? `, … ${blockers.length - 10} more` : '');
    reasons.push(mode === 'strict'
      ? `the partition is not empty: ${shown} (restore only into an empty Redis; --merge keeps what was written after a wipe)`
      : `live data cannot be merged: ${shown}`);
  }
  return reasons;
}

/**
 * Writes one history stream: its archived entries (original ids) go to a staging stream in
 * chunks, then restoreStream.lua swaps it in with the live entries newer than them behind
 * it, in one atomic call (live writers never abort it; see the script's header).
 */
async function restoreStream(redis: Redis, key: string, staging: string, archived: readonly ArchivedEntry[], groups: readonly GroupPosition[]): Promise<number> {
  await redis.del(staging);
  // Chunks go out back to back on one connection (so in order), a few in flight at once.
  let failure: Error | undefined;
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < archived.length && !failure; i += CHUNK) {
    const args: string[] = [];
    for (const e of archived.slice(i, i + CHUNK)) args.push(e.id, String(e.fields.length), ...e.fields);
    inFlight.push(runScript(redis, 'stageEntries', [staging], args).then(() => undefined, (err: Error) => { failure ??= err; }));
    if (inFlight.length >= 4) await inFlight.shift();
  }
  await Promise.all(inFlight);
  if (failure) throw new Error(`restore of ${key}: ${failure.message}`);
  const last = archived.at(-1)?.id ?? '0-0';
  const kept = await runScript(redis, 'restoreStream', [key, staging], [last, groups.length, ...groups.flatMap((g) => [g.name, g.lastDeliveredId])]);
  return Number(kept);
}

export function markerValue(archiveId: string, now: number): string {
  return `${archiveId}/${now}`;
}

/** The archive id an epoch marker names (`<archiveId>/<generation>`). */
export const markerArchiveId = (marker: string): string => marker.split('/')[0] ?? '';

/**
 * Maps each archived idempotency key to its task again, for what is left of its TTL
 * (recorded in the `submitted` event), so a client that retries a submit after the loss
 * gets the same task instead of a second one (and a second payment). NX: a key a live
 * submit took after the wipe stays with that submit's task.
 */
async function restoreIdempotencyKeys(redis: Redis, keys: Keyspace, plan: RestorePlan, at: number): Promise<number> {
  let written = 0;
  const due = plan.tasks.filter((t) => t.idem && t.idem.expiresAt - at >= 1000);
  for (let i = 0; i < due.length; i += CHUNK) {
    const p = redis.pipeline();
    for (const t of due.slice(i, i + CHUNK)) {
      const idem = t.idem as NonNullable<typeof t.idem>;
      p.set(keys.idem(idem.tenant, idem.key), t.taskId, 'EX', Math.floor((idem.expiresAt - at) / 1000), 'NX');
    }
    for (const [err, reply] of (await p.exec()) ?? []) {
      if (err) throw new Error(`restore of idempotency keys: ${err.message}`);
      if (reply === 'OK') written++;
    }
  }
  return written;
}

export async function restore(o: RestoreOptions): Promise<RestoreReport> {
  const now = o.now ?? Date.now;
  const started = now();
  const mode = o.mode ?? 'strict';
  const read = typeof o.archive === 'string' ? readArchive(o.archive) : o.archive;
  const readDone = now();
  const plan = foldArchive(read.entries);
  const folded = now();
  const { redis, keys } = o;
  const reasons = await assessTarget(redis, keys, plan, mode);
  if (reasons.length > 0) throw new RestoreRefusedError(reasons);

  const report: RestoreReport = {
    archiveId: read.manifest.archiveId, marker: '', mode, streams: {}, liveKept: {}, terminal: 0, requeued: 0,
    skipped: 0, overwritten: 0, adopted: 0, held: 0, idempotencyKeys: 0, expired: 0, unrecoverable: plan.unrecoverable, ms: 0,
  };
  const byName = new Map(archivedStreams(keys).map((s) => [s.name, s]));
  for (const name of HISTORY_STREAMS) {
    const s = byName.get(name);
    const archived = plan.history.get(name) ?? [];
    const groups = read.manifest.groups[name] ?? [];
    if (!s || (archived.length === 0 && groups.length === 0)) continue;
    report.liveKept[name] = await restoreStream(redis, s.key, keys.drStaging(name), archived, groups);
    report.streams[name] = archived.length;
  }
  const streamsDone = now();

  const ttl = o.resultTtlSeconds ?? 86_400;
  // Requeued entries propose ids `<archive max ms + 1>-<n>` (deterministic in an empty
  // Redis); restoreTasks.lua falls back to `*` on a lane a live writer is already ahead in.
  const baseMs = BigInt(plan.maxId.split('-')[0] ?? '0') + 1n;
  const laneIndex = new Map(keys.lanes.map((k, i) => [k, i + 1]));
  let seq = 0;
  const chunkSize = o.chunk ?? CHUNK;
  const holdMs = o.holdMs ?? DEFAULT_RESTORE_HOLD_MS;
  // Chunks go out back to back on one connection (so the proposed ids reach each lane in
  // order), a few in flight at once.
  let failure: Error | undefined;
  const inFlight: Promise<void>[] = [];
  const count = (r: unknown): void => {
    const [terminal = 0, requeued = 0, skipped = 0, overwritten = 0, adopted = 0, held = 0] = r as number[];
    report.held += held;
    report.terminal += terminal + overwritten;
    report.requeued += requeued + adopted;
    report.skipped += skipped;
    report.overwritten += overwritten;
    report.adopted += adopted;
  };
  for (let i = 0; i < plan.tasks.length && !failure; i += chunkSize) {
    const taskKeys: string[] = [];
    const at = now();
    const args: (string | number)[] = [keys.lanes.length, holdMs > 0 ? at + holdMs : 0];
    for (const t of plan.tasks.slice(i, i + chunkSize)) {
      let expireIn = 0;
      if (t.completedAt !== undefined && ttl > 0) {
        expireIn = ttl - Math.floor((at - t.completedAt) / 1000);
        if (expireIn <= 0) { report.expired++; continue; }
      }
      const projection = Object.entries(t.projection).flat();
      const lane = t.requeue ? laneIndex.get(keys.lane(t.requeue.priority)) ?? 0 : 0;
      const fields = t.requeue?.fields ?? [];
      taskKeys.push(keys.task(t.taskId));
      args.push(expireIn, lane, lane > 0 ? `${baseMs}-${seq++}` : '*', projection.length / 2, ...projection, fields.length, ...fields);
    }
    if (taskKeys.length === 0) continue;
    inFlight.push(runScript(redis, 'restoreTasks', [...keys.lanes, keys.delayed, keys.delayedEntries, ...taskKeys], args).then(count, (err: Error) => { failure ??= err; }));
    if (inFlight.length >= 4) await inFlight.shift();
  }
  await Promise.all(inFlight);
  if (failure) throw new Error(`restore of task projections: ${(failure as Error).message}`);

  const tasksDone = now();
  report.idempotencyKeys = await restoreIdempotencyKeys(redis, keys, plan, now());
  await ensureWorkerGroups(redis, keys);
  if (plan.maxNumericId > 0) {
    const cur = Number((await redis.get(keys.idSeq)) ?? '0');
    if (cur < plan.maxNumericId) await redis.set(keys.idSeq, String(plan.maxNumericId));
  }
  report.marker = markerValue(read.manifest.archiveId, now());
  await redis.set(keys.drEpoch, report.marker);
  report.ms = now() - started;
  report.phaseMs = { read: readDone - started, fold: folded - readDone, streams: streamsDone - folded, tasks: tasksDone - streamsDone };
  return report;
}
