/**
 * The archive directory: segment files + manifest (+ a LOCK file naming the writer).
 *
 *   ArchiveWriter  the one process appending to an archive (the service, or `dr backup`)
 *   readArchive    any reader (restore, verify, status); never blocks the writer
 *
 * Write order per batch (the durability contract):
 *   1. append the frame to the active segment, fsync the segment
 *   2. advance the cursors and the segment's committed length in the manifest, save it
 *      atomically (manifest.ts)
 * A crash between 1 and 2 leaves bytes past the committed length; `open` truncates them
 * and the next read from Redis fetches the same entries again from the saved cursors,
 * so nothing is archived twice and nothing is skipped.
 *
 * Segment files the manifest does not name are leftovers of a crash mid-rotation or
 * mid-compaction (compact.ts): the manifest is the truth, so `open` deletes them.
 * Segment numbers are never reused (`nextSegment`), since compaction removes segments.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { encodeFrame, readSegment, type ArchivedEntry, type TornTail } from './segment';
import { loadManifest, MANIFEST_FILE, newManifest, saveManifest, type CompactionSummary, type GroupPosition, type Manifest, type SegmentInfo } from './manifest';
import { compareIds } from './streams';

export interface ArchiveWriterOptions {
  dir: string;
  prefix: string;
  partition: string;
  /** Start a new segment once the active one reaches this size. Default 64 MiB. */
  segmentMaxBytes?: number;
  /**
   * Start a new segment once the active one is this old, ms, so that a quiet archive
   * still seals segments for compaction to act on. Default 1 hour.
   */
  segmentMaxAgeMs?: number;
  /** Clock (tests). */
  now?: () => number;
}

export class ArchiveLockedError extends Error {
  override readonly name = 'ArchiveLockedError';
}

const LOCK_FILE = 'LOCK';
const segmentName = (n: number): string => `seg-${String(n).padStart(6, '0')}.ssa`;
const segmentNumber = (file: string): number => Number(/^seg-(\d+)\.ssa$/.exec(file)?.[1] ?? 0);

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Appends batches to an archive. Exactly one writer per directory (LOCK holds its pid). */
export class ArchiveWriter {
  private fd: number | undefined;
  private closed = false;
  /** Stray segment files `open` deleted (see the header). */
  removedStrays: string[] = [];

  private constructor(
    readonly dir: string,
    readonly manifest: Manifest,
    private readonly segmentMaxBytes: number,
    private readonly segmentMaxAgeMs: number,
    private readonly now: () => number,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  /** Opens (or creates) the archive, takes the lock and truncates any uncommitted tail. */
  static open(o: ArchiveWriterOptions): ArchiveWriter {
    const now = o.now ?? Date.now;
    mkdirSync(o.dir, { recursive: true });
    const lock = join(o.dir, LOCK_FILE);
    if (existsSync(lock)) {
      const pid = Number(readFileSync(lock, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) {
        throw new ArchiveLockedError(`archive ${o.dir} is being written by process ${pid} (remove ${lock} if that process is not dr-recovery)`);
      }
    }
    writeFileSync(lock, String(process.pid));
    let m = loadManifest(o.dir);
    if (!m) {
      m = newManifest(o.prefix, o.partition, now());
      saveManifest(o.dir, m);
    }
    m.nextSegment ??= Math.max(0, ...m.segments.map((x) => segmentNumber(x.file))) + 1;
    const w = new ArchiveWriter(o.dir, m, o.segmentMaxBytes ?? 64 * 1024 * 1024, o.segmentMaxAgeMs ?? 3_600_000, now);
    w.removedStrays = strayFiles(o.dir, m);
    for (const f of w.removedStrays) rmSync(join(o.dir, f), { force: true });
    rmSync(join(o.dir, `${MANIFEST_FILE}.tmp`), { force: true });
    const active = m.segments.at(-1);
    if (active) {
      const path = join(o.dir, active.file);
      if (!existsSync(path)) writeFileSync(path, '');
      if (statSync(path).size > active.bytes) truncateSync(path, active.bytes);
    }
    return w;
  }

  /** Last archived id of a logical stream (`0-0` when none). */
  cursor(stream: string): string {
    return this.manifest.cursors[stream] ?? '0-0';
  }

  /**
   * Appends one batch as one frame and commits it (fsync, then manifest). Entries at or
   * below a stream's cursor are dropped, so a replayed read never archives twice.
   * Returns the number of entries written.
   */
  append(entries: readonly ArchivedEntry[]): number {
    if (this.closed) throw new Error('archive writer is closed');
    const fresh = entries.filter((e) => compareIds(e.id, this.cursor(e.stream)) > 0);
    if (fresh.length === 0) return 0;
    const at = this.now();
    const frame = encodeFrame({ at, entries: fresh });
    let seg = this.manifest.segments.at(-1);
    const full = (x: SegmentInfo): boolean => x.bytes + frame.length > this.segmentMaxBytes || x.createdAt <= at - this.segmentMaxAgeMs;
    if (!seg || seg.compactedAt !== undefined || (seg.bytes > 0 && full(seg))) seg = this.rotate(at);
    const fd = this.activeFd(seg);
    let off = 0;
    while (off < frame.length) off += writeSync(fd, frame, off, frame.length - off, seg.bytes + off);
    fsyncSync(fd);
    seg.bytes += frame.length;
    seg.frames += 1;
    seg.entries += fresh.length;
    seg.lastAt = at;
    for (const e of fresh) this.manifest.cursors[e.stream] = e.id;
    this.manifest.updatedAt = at;
    saveManifest(this.dir, this.manifest);
    return fresh.length;
  }

  /** Records consumer-group positions (restore recreates the groups there). */
  recordGroups(groups: Record<string, GroupPosition[]>): void {
    this.manifest.groups = groups;
    this.manifest.updatedAt = this.now();
    saveManifest(this.dir, this.manifest);
  }

  /** Reserves a segment file name that no segment ever had (saved with the next manifest). */
  allocateSegmentName(): string {
    const n = this.manifest.nextSegment ?? 1;
    this.manifest.nextSegment = n + 1;
    return segmentName(n);
  }

  /**
   * Compaction's commit point: `old` (the first segments of the manifest, in order) are
   * replaced by `replacement` (fsynced before this call; none when nothing was left) in
   * one atomic manifest save. The old files are the caller's to delete afterwards.
   */
  replaceSegments(old: readonly SegmentInfo[], replacement: SegmentInfo | undefined, summary: CompactionSummary): void {
    if (this.closed) throw new Error('archive writer is closed');
    const segs = this.manifest.segments;
    if (old.length === 0 || old.length >= segs.length || old.some((x, i) => segs[i] !== x)) {
      throw new Error('compaction: the segments to replace are no longer the oldest sealed ones');
    }
    segs.splice(0, old.length, ...(replacement ? [replacement] : []));
    this.manifest.compaction = summary;
    this.manifest.updatedAt = this.now();
    saveManifest(this.dir, this.manifest);
  }

  private rotate(at: number): SegmentInfo {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    const seg: SegmentInfo = { file: this.allocateSegmentName(), bytes: 0, frames: 0, entries: 0, createdAt: at };
    writeFileSync(join(this.dir, seg.file), '');
    this.manifest.segments.push(seg);
    saveManifest(this.dir, this.manifest);
    return seg;
  }

  private activeFd(seg: SegmentInfo): number {
    if (this.fd === undefined) this.fd = openSync(join(this.dir, seg.file), 'r+');
    return this.fd;
  }

  /** Closes the segment and releases the lock. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    rmSync(join(this.dir, LOCK_FILE), { force: true });
  }
}

export interface SegmentReport {
  file: string;
  frames: number;
  entries: number;
  /** Committed length in the manifest. */
  committedBytes: number;
  validBytes: number;
  fileBytes: number;
  /** A frame that failed its checksum (or was cut short); reading stopped there. */
  tornTail?: TornTail;
  missing?: boolean;
}

export interface ArchiveRead {
  manifest: Manifest;
  /** Every checksum-valid entry, in archive order (per stream: id order). */
  entries: ArchivedEntry[];
  segments: SegmentReport[];
  /** Problems that lose committed data (a torn frame before the committed length, a missing segment). */
  problems: string[];
}

/**
 * Reads a whole archive. A torn tail in the LAST segment past its committed length is
 * the expected result of a killed writer and is reported, not a problem; anything that
 * cuts into committed bytes is a problem.
 */
export function readArchive(dir: string): ArchiveRead {
  // A compaction in another process may delete segments the manifest we loaded still
  // names: read again from the new manifest (it commits before it deletes).
  for (let tries = 0; ; tries++) {
    const r = readOnce(dir);
    if (!r.segments.some((s) => s.missing) || tries >= 3) return r;
    const now = loadManifest(dir);
    if (!now || JSON.stringify(now.segments.map((s) => s.file)) === JSON.stringify(r.manifest.segments.map((s) => s.file))) return r;
  }
}

function readOnce(dir: string): ArchiveRead {
  const manifest = loadManifest(dir);
  if (!manifest) throw new Error(`no archive in ${dir} (missing manifest.json)`);
  const entries: ArchivedEntry[] = [];
  const segments: SegmentReport[] = [];
  const problems: string[] = [];
  for (const seg of manifest.segments) {
    const path = join(dir, seg.file);
    if (!existsSync(path)) {
      segments.push({ file: seg.file, frames: 0, entries: 0, committedBytes: seg.bytes, validBytes: 0, fileBytes: 0, missing: true });
      if (seg.bytes > 0) problems.push(`${seg.file}: missing (${seg.bytes} committed bytes)`);
      continue;
    }
    const r = readSegment(path);
    let n = 0;
    for (const f of r.frames) for (const e of f.entries) { entries.push(e); n++; }
    segments.push({ file: seg.file, frames: r.frames.length, entries: n, committedBytes: seg.bytes, validBytes: r.validBytes, fileBytes: r.fileBytes, tornTail: r.tornTail });
    if (r.validBytes < seg.bytes) problems.push(`${seg.file}: only ${r.validBytes} of ${seg.bytes} committed bytes are readable (${r.tornTail?.reason ?? 'unknown'})`);
  }
  return { manifest, entries, segments, problems };
}

/** Segment files in a directory the manifest does not name (left by a crash mid-rotate). */
export function strayFiles(dir: string, m: Manifest): string[] {
  const named = new Set(m.segments.map((s) => s.file));
  return readdirSync(dir).filter((f) => f.endsWith('.ssa') && !named.has(f));
}
