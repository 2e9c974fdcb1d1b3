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
 *   1. history streams (events, results, dead-letter, control, alerts): every archived
 *      entry with its ORIGINAL id, then the entries written after the wipe, in one
 *      MULTI per stream (WATCHed, retried if a live writer races it); consumer groups of
 *      the stream are recreated where they were (live position if the group exists now,
 *      else the archived position);
 *   2. per task, one MULTI: projection + (unfinished) its requeued lane entry; skipped when
 *      the projection already exists, so a restore interrupted half-way can be re-run;
 *   3. the `workers` group on every lane, `id-seq` raised past every archived numeric id;
 *   4. the epoch marker, last: a restore that dies before it is simply run again.
 *
 * Deterministic: restoring the same archive into two empty Redis servers yields the same
 * keys and values (requeued lane entries get ids `<archive max ms + 1>-<n>` when their
 * lane is empty). Not restored (not in any stream): idempotency keys, the delayed set
 * (due retries are requeued at once), open-task sets, stats, webhooks, tenants, api keys.
 */
import type { Redis } from 'ioredis';
import { ensureWorkerGroups, type Keyspace } from '@solvestream/contracts';
import { readArchive, type ArchiveRead } from './archive';
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
}

export interface RestoreReport {
  archiveId: string;
  marker: string;
  mode: RestoreMode;
  streams: Record<string, number>;
  /** Entries written after the wipe that were kept behind the restored history. */
  liveKept: Record<string, number>;
  terminal: number;
  requeued: number;
  /** Projections already present (post-wipe tasks, or an earlier interrupted restore). */
  skipped: number;
  /** Terminal projections past their TTL, not written (they would have expired anyway). */
  expired: number;
  unrecoverable: string[];
  ms: number;
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

async function groupsOf(redis: Redis, key: string): Promise<GroupPosition[]> {
  try {
    const rows = (await redis.xinfo('GROUPS', key)) as (string | number)[][];
    return rows.map((row) => {
      const g: Record<string, string> = {};
      for (let i = 0; i + 1 < row.length; i += 2) g[String(row[i])] = String(row[i + 1]);
      return { name: g.name ?? '', lastDeliveredId: g['last-delivered-id'] ?? '0-0' };
    });
  } catch {
    return [];
  }
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
  for (const key of await scanPartition(redis, keys)) {
    if (key === keys.drEpoch) continue;
    const type = await redis.type(key);
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

/** Writes one history stream: archived entries (original ids), then live ones newer than them. */
async function restoreStream(redis: Redis, key: string, archived: readonly ArchivedEntry[], groups: readonly GroupPosition[]): Promise<number> {
  const last = archived.at(-1)?.id ?? '0-0';
  for (let tries = 0; ; tries++) {
    await redis.watch(key);
    const live = ((await redis.xrange(key, '-', '+')) as [string, string[]][]).filter(([id]) => compareIds(id, last) > 0);
    const liveGroups = await groupsOf(redis, key);
    const m = redis.multi();
    m.del(key);
    for (const e of archived) m.xadd(key, e.id, ...e.fields);
    for (const [id, fields] of live) m.xadd(key, id, ...fields);
    const byName = new Map(groups.map((g) => [g.name, g.lastDeliveredId]));
    for (const g of liveGroups) byName.set(g.name, g.lastDeliveredId);
    for (const [name, id] of byName) m.xgroup('CREATE', key, name, id, 'MKSTREAM');
    const res = await m.exec();
    if (res === null) {
      if (tries >= 20) throw new Error(`restore of ${key}: a live writer kept changing it (20 tries)`);
      continue;
    }
    const failed = res.find(([err]) => err);
    if (failed?.[0]) throw new Error(`restore of ${key}: ${failed[0].message}`);
    return live.length;
  }
}

async function lastGeneratedId(redis: Redis, key: string): Promise<string> {
  try {
    const info = (await redis.xinfo('STREAM', key)) as unknown[];
    const i = info.indexOf('last-generated-id');
    return i >= 0 ? String(info[i + 1]) : '0-0';
  } catch {
    return '0-0'; // no such key
  }
}

export function markerValue(archiveId: string, now: number): string {
  return `${archiveId}/${now}`;
}

/** The archive id an epoch marker names (`<archiveId>/<generation>`). */
export const markerArchiveId = (marker: string): string => marker.split('/')[0] ?? '';

export async function restore(o: RestoreOptions): Promise<RestoreReport> {
  const now = o.now ?? Date.now;
  const started = now();
  const mode = o.mode ?? 'strict';
  const read = typeof o.archive === 'string' ? readArchive(o.archive) : o.archive;
  const plan = foldArchive(read.entries);
  const { redis, keys } = o;
  const reasons = await assessTarget(redis, keys, plan, mode);
  if (reasons.length > 0) throw new RestoreRefusedError(reasons);

  const report: RestoreReport = {
    archiveId: read.manifest.archiveId, marker: '', mode, streams: {}, liveKept: {}, terminal: 0, requeued: 0,
    skipped: 0, expired: 0, unrecoverable: plan.unrecoverable, ms: 0,
  };
  const byName = new Map(archivedStreams(keys).map((s) => [s.name, s]));
  for (const name of HISTORY_STREAMS) {
    const s = byName.get(name);
    const archived = plan.history.get(name) ?? [];
    const groups = read.manifest.groups[name] ?? [];
    if (!s || (archived.length === 0 && groups.length === 0)) continue;
    report.liveKept[name] = await restoreStream(redis, s.key, archived, groups);
    report.streams[name] = archived.length;
  }

  const ttl = o.resultTtlSeconds ?? 86_400;
  const baseMs = BigInt(plan.maxId.split('-')[0] ?? '0') + 1n;
  let seq = 0;
  // A lane whose last generated id is below the archive's newest takes deterministic ids.
  const freshLane = new Map<string, boolean>();
  for (const k of keys.lanes) freshLane.set(k, compareIds(await lastGeneratedId(redis, k), `${baseMs}-0`) < 0);
  for (let i = 0; i < plan.tasks.length; i += CHUNK) {
    const chunk = plan.tasks.slice(i, i + CHUNK);
    const exists = await Promise.all(chunk.map((t) => redis.exists(keys.task(t.taskId))));
    const p = redis.multi();
    const at = now();
    for (const [j, t] of chunk.entries()) {
      if (exists[j]) { report.skipped++; continue; }
      let expireIn = 0;
      if (t.completedAt !== undefined && ttl > 0) {
        expireIn = ttl - Math.floor((at - t.completedAt) / 1000);
        if (expireIn <= 0) { report.expired++; continue; }
      }
      const projection = { ...t.projection };
      if (t.requeue) {
        const lane = keys.lane(t.requeue.priority);
        const id = freshLane.get(lane) ? `${baseMs}-${seq++}` : '*';
        p.xadd(lane, id, ...t.requeue.fields);
        if (id !== '*') projection.entryId = id;
        report.requeued++;
      } else {
        report.terminal++;
      }
      p.hset(keys.task(t.taskId), projection);
      if (expireIn > 0) p.expire(keys.task(t.taskId), expireIn);
    }
    const res = await p.exec();
    const failed = res?.find(([err]) => err);
    if (failed?.[0]) throw new Error(`restore of task projections: ${failed[0].message}`);
  }

  await ensureWorkerGroups(redis, keys);
  if (plan.maxNumericId > 0) {
    const cur = Number((await redis.get(keys.idSeq)) ?? '0');
    if (cur < plan.maxNumericId) await redis.set(keys.idSeq, String(plan.maxNumericId));
  }
  report.marker = markerValue(read.manifest.archiveId, now());
  await redis.set(keys.drEpoch, report.marker);
  report.ms = now() - started;
  return report;
}
