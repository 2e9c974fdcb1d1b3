/**
 * `dr status` and `dr verify`: what the archive holds and how far behind Redis it is.
 */
import type { Redis } from 'ioredis';
import type { Keyspace } from '@solvestream/contracts';
import { readArchive, strayFiles, type SegmentReport } from './archive';
import { loadManifest, type CompactionSummary } from './manifest';
import { markerArchiveId } from './restore';
import { archivedStreams, compareIds } from './streams';

export interface StreamStatus {
  archivedId: string;
  redisLastId: string | null;
  /** Entries in Redis newer than the archive's cursor (bounded by the stream's length). */
  behind: number;
  /** ms between the newest Redis entry and the newest archived one (0 when caught up). */
  lagMs: number;
}

export interface DrStatus {
  archiveDir: string;
  archiveId: string;
  segments: number;
  entries: number;
  updatedAt: number;
  marker: string | null;
  /** `ok` marker names this archive; `missing` Redis lost it; `foreign` another archive's. */
  epoch: 'ok' | 'missing' | 'foreign';
  streams: Record<string, StreamStatus>;
  /** What the last retention compaction did, if any ran. */
  compaction?: CompactionSummary;
}

const ms = (id: string): number => Number(id.split('-')[0]);

export async function archiveStatus(redis: Redis, keys: Keyspace, dir: string): Promise<DrStatus> {
  const m = loadManifest(dir);
  if (!m) throw new Error(`no archive in ${dir} (missing manifest.json)`);
  const marker = await redis.get(keys.drEpoch);
  const streams: Record<string, StreamStatus> = {};
  for (const s of archivedStreams(keys)) {
    const archivedId = m.cursors[s.name] ?? '0-0';
    const top = ((await redis.xrevrange(s.key, '+', '-', 'COUNT', 1)) as [string, string[]][])[0]?.[0] ?? null;
    const behind = top && compareIds(top, archivedId) > 0
      ? ((await redis.xrange(s.key, `(${archivedId}`, '+', 'COUNT', 100_000)) as unknown[]).length
      : 0;
    streams[s.name] = { archivedId, redisLastId: top, behind, lagMs: top && behind > 0 ? Math.max(0, ms(top) - ms(archivedId)) : 0 };
  }
  return {
    archiveDir: dir, archiveId: m.archiveId, segments: m.segments.length,
    entries: m.segments.reduce((n, s) => n + s.entries, 0), updatedAt: m.updatedAt, marker,
    epoch: marker === null ? 'missing' : markerArchiveId(marker) === m.archiveId ? 'ok' : 'foreign',
    streams, ...(m.compaction ? { compaction: m.compaction } : {}),
  };
}

export interface VerifyReport {
  ok: boolean;
  segments: SegmentReport[];
  entries: number;
  /** Problems that lose committed data. A torn tail past the committed length is not one. */
  problems: string[];
  /** Stream ids out of order within a stream (would make restore refuse). */
  outOfOrder: number;
  strays: string[];
}

/** Reads every segment, checks every frame's CRC and the per-stream id order. */
export function verifyArchive(dir: string): VerifyReport {
  const r = readArchive(dir);
  const last = new Map<string, string>();
  let outOfOrder = 0;
  for (const e of r.entries) {
    const prev = last.get(e.stream);
    if (prev && compareIds(e.id, prev) <= 0) outOfOrder++;
    last.set(e.stream, e.id);
  }
  const problems = [...r.problems];
  if (outOfOrder > 0) problems.push(`${outOfOrder} entries out of id order`);
  return { ok: problems.length === 0, segments: r.segments, entries: r.entries.length, problems, outOfOrder, strays: strayFiles(dir, r.manifest) };
}
