/**
 * The archive manifest (`manifest.json`): which segments exist and how many of their
 * bytes are committed, the last archived id of every stream (so a restart resumes
 * exactly where it stopped) and the last seen consumer-group positions (so a restore
 * recreates groups where they were).
 *
 * Written atomically: temp file, fsync, rename, fsync of the directory. A frame is
 * fsynced into its segment BEFORE the manifest that counts it is written, so the
 * manifest never names bytes that are not on disk.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_VERSION = 1;

export interface SegmentInfo {
  /** File name inside the archive directory (`seg-000001.ssa`). */
  file: string;
  /** Committed bytes: whole frames fsynced before this manifest was written. */
  bytes: number;
  frames: number;
  entries: number;
  createdAt: number;
  /** When its last committed frame was written (absent in archives from before retention). */
  lastAt?: number;
  /** Set on a segment written by compaction (compact.ts): what is left of older segments. */
  compactedAt?: number;
}

/** What the last compaction did (compact.ts). */
export interface CompactionSummary {
  at: number;
  /** Entries of tasks finished before this (and other entries written before it) were dropped. */
  cutoff: number;
  /** Segment files replaced, and the one that replaced them (none when nothing was left). */
  replaced: string[];
  into?: string;
  entriesBefore: number;
  entriesAfter: number;
  /** Finished tasks whose entries were dropped. */
  tasksDropped: number;
  /** Unfinished tasks whose entries were kept. */
  tasksKept: number;
}

export interface GroupPosition {
  name: string;
  lastDeliveredId: string;
}

export interface Manifest {
  version: number;
  /** Random id of this archive; the epoch marker in Redis names it. */
  archiveId: string;
  prefix: string;
  partition: string;
  createdAt: number;
  updatedAt: number;
  segments: SegmentInfo[];
  /** Logical stream name → last archived entry id. Missing = nothing archived yet (`0-0`). */
  cursors: Record<string, string>;
  /** Logical stream name → consumer groups seen on it (XINFO GROUPS), refreshed periodically. */
  groups: Record<string, GroupPosition[]>;
  /** Number of the next segment file; names are never reused (compaction removes segments). */
  nextSegment?: number;
  compaction?: CompactionSummary;
}

export function newManifest(prefix: string, partition: string, now: number): Manifest {
  return { version: MANIFEST_VERSION, archiveId: randomUUID(), prefix, partition, createdAt: now, updatedAt: now, segments: [], cursors: {}, groups: {} };
}

export class ManifestError extends Error {
  override readonly name = 'ManifestError';
}

export function loadManifest(dir: string): Manifest | undefined {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path)) return undefined;
  let m: Manifest;
  try {
    m = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
  } catch (err) {
    throw new ManifestError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  if (m.version !== MANIFEST_VERSION) throw new ManifestError(`${path}: unsupported manifest version ${String(m.version)}`);
  if (!m.archiveId || !Array.isArray(m.segments) || typeof m.cursors !== 'object') throw new ManifestError(`${path}: missing archiveId, segments or cursors`);
  m.groups ??= {};
  return m;
}

/** fsync of a file or directory by path (a directory: so a rename or delete in it is durable). */
export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes the manifest atomically (temp + fsync + rename + directory fsync). */
export function saveManifest(dir: string, m: Manifest): void {
  const tmp = join(dir, `${MANIFEST_FILE}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    writeFileSync(fd, JSON.stringify(m, null, 1));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, MANIFEST_FILE));
  fsyncPath(dir);
}
