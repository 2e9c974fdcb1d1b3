/**
 * Retention: compaction of the oldest segments, so the archive stops growing without
 * ever dropping what a restore needs.
 *
 * What goes, from the sealed segments that are all older than the cutoff (now minus the
 * retention), and only from those:
 *   - every entry of a task whose terminal outcome (a `results` entry) or dead-letter
 *     entry lies in those segments: lane entries, events, results, dead-letter (a task
 *     dead-lettered as poison gets no result, and could not be requeued anyway);
 *   - events of a task that has nothing else there but post-outcome events (`duplicate`,
 *     `reported`, `webhook-*`): the leftovers of a task dropped by an earlier compaction;
 *   - entries of no task (alerts, control commands, undecodable entries).
 * What stays: everything of a task without an outcome in those segments (its lane
 * entry, events and checkpoint, so a restore still requeues it and polls its provider id),
 * every `config` entry (the version history that rollback needs), and the active
 * segment and every segment newer than the cutoff, untouched. Per stream the kept
 * entries keep their order and ids, so the archive still reads in id order.
 *
 * Steps and what a crash (kill -9) at each leaves; the manifest is the truth throughout:
 *   1. read the candidates (frame by frame, yielding to the event loop; the archive
 *      loop keeps appending to the active segment meanwhile)
 *   2. write what is kept to a NEW segment file, fsync it and the directory
 *        crash: a stray file the manifest does not name; the archive is unchanged and
 *        ArchiveWriter.open deletes the stray
 *   3. replace the candidates by it in one atomic manifest save (the commit point)
 *        crash before: as 2; after: the old files are strays, deleted on open
 *   4. delete the old files
 * A task can never be half-dropped by a crash: before step 3 readers see the old
 * segments, after it the new one.
 */
import { closeSync, fsyncSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { decodeTaskEntry, fieldsToObject } from '@solvestream/contracts';
import type { ArchiveWriter } from './archive';
import { fsyncPath, type CompactionSummary, type SegmentInfo } from './manifest';
import { encodeFrame, iterateFrames, type ArchivedEntry, type Frame } from './segment';

/** Events that only ever follow a task's outcome. */
const POST_OUTCOME = new Set(['duplicate', 'reported', 'webhook-delivered', 'webhook-failed', 'webhook-abandoned']);
/** Streams kept whole whatever their age. */
const KEEP_STREAMS = new Set(['config']);

export type CompactStep = 'read' | 'writing' | 'written' | 'committed' | 'deleted';

export interface CompactOptions {
  /** Epoch ms: segments whose last frame is older than this are candidates. */
  cutoff: number;
  /** Stop adding candidates past this many committed bytes (the oldest first). Default 128 MiB. */
  maxInputBytes?: number;
  /** Entries per frame of the new segment. Default 2,000. */
  frameEntries?: number;
  /** Aborts between frames (the partial new file is removed; the archive is unchanged). */
  signal?: AbortSignal;
  /** Called after each step (tests kill the process there). */
  onStep?: (step: CompactStep) => void | Promise<void>;
  now?: () => number;
}

export type CompactResult =
  | { compacted: true; summary: CompactionSummary; ms: number }
  | { compacted: false; reason: string };

const yieldLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Frames of a segment's committed bytes, yielding to the event loop every ~20 ms of work. */
async function* frames(dir: string, seg: SegmentInfo): AsyncGenerator<Frame> {
  const buf = readFileSync(join(dir, seg.file)).subarray(0, seg.bytes);
  let t = Date.now();
  const it = iterateFrames(buf);
  for (let r = it.next(); !r.done; r = it.next()) {
    yield r.value;
    if (Date.now() - t > 20) { await yieldLoop(); t = Date.now(); }
  }
}

/** The task an entry belongs to, if any. */
function taskOf(e: ArchivedEntry): string | undefined {
  if (e.stream.startsWith('tasks:')) {
    const d = decodeTaskEntry(e.fields);
    return d.ok ? d.value.taskId : undefined;
  }
  if (e.stream === 'events' || e.stream === 'results' || e.stream === 'dead-letter') return fieldsToObject(e.fields).task || undefined;
  return undefined;
}

interface TaskFacts { finished: boolean; restorable: boolean; entries: number }

/**
 * Compacts the oldest sealed segments of a live archive (the caller holds the writer;
 * the archive loop may go on appending meanwhile). Does nothing when no segment is past
 * the cutoff or nothing in them can go.
 */
export async function compactArchive(writer: ArchiveWriter, o: CompactOptions): Promise<CompactResult> {
  const now = o.now ?? Date.now;
  const started = now();
  const segs = writer.manifest.segments;
  const candidates: SegmentInfo[] = [];
  let bytes = 0;
  for (let i = 0; i < segs.length - 1; i++) { // never the active (last) segment
    const s = segs[i] as SegmentInfo;
    const lastAt = s.lastAt ?? (segs[i + 1] as SegmentInfo).createdAt;
    if (lastAt >= o.cutoff) break;
    if (candidates.length > 0 && bytes + s.bytes > (o.maxInputBytes ?? 128 * 1024 * 1024)) break;
    candidates.push(s);
    bytes += s.bytes;
  }
  if (candidates.length === 0) return { compacted: false, reason: 'no sealed segment is older than the retention' };

  // Pass 1: which tasks finished in the candidates, and which have anything restorable there.
  const facts = new Map<string, TaskFacts>();
  let before = 0;
  let kept = 0; // entries of no task that stay
  for (const seg of candidates) {
    for await (const f of frames(writer.dir, seg)) {
      for (const e of f.entries) {
        before++;
        if (KEEP_STREAMS.has(e.stream)) { kept++; continue; }
        const task = taskOf(e);
        if (!task) continue;
        let t = facts.get(task);
        if (!t) facts.set(task, (t = { finished: false, restorable: false, entries: 0 }));
        t.entries++;
        if (e.stream === 'results' || e.stream === 'dead-letter') t.finished = true;
        if (e.stream !== 'events' || !POST_OUTCOME.has(fieldsToObject(e.fields).event ?? '')) t.restorable = true;
      }
    }
  }
  const stays = (t: TaskFacts): boolean => !t.finished && t.restorable;
  let tasksDropped = 0;
  let tasksKept = 0;
  for (const t of facts.values()) {
    if (stays(t)) { tasksKept++; kept += t.entries; } else if (t.finished) tasksDropped++;
  }
  if (kept === before) return { compacted: false, reason: 'nothing in the segments past the retention can go yet' };
  const keep = (e: ArchivedEntry): boolean => {
    if (KEEP_STREAMS.has(e.stream)) return true;
    const task = taskOf(e);
    return task !== undefined && stays(facts.get(task) as TaskFacts);
  };
  await o.onStep?.('read');

  // Pass 2: write what stays to a new segment.
  const file = writer.allocateSegmentName();
  const path = join(writer.dir, file);
  const out: SegmentInfo = {
    file, bytes: 0, frames: 0, entries: 0, createdAt: (candidates[0] as SegmentInfo).createdAt,
    lastAt: Math.max(...candidates.map((s, i) => s.lastAt ?? (segs[i + 1] as SegmentInfo).createdAt)), compactedAt: started,
  };
  const fd = openSync(path, 'w');
  const aborted = (): void => { if (o.signal?.aborted || writer.isClosed) throw new Error('compaction aborted: the archive is closing'); };
  try {
    let pending: ArchivedEntry[] = [];
    let at = 0;
    const flush = async (): Promise<void> => {
      if (pending.length === 0) return;
      const frame = encodeFrame({ at, entries: pending });
      let off = 0;
      while (off < frame.length) off += writeSync(fd, frame, off, frame.length - off, out.bytes + off);
      out.bytes += frame.length;
      out.frames++;
      out.entries += pending.length;
      pending = [];
      await o.onStep?.('writing');
    };
    for (const seg of candidates) {
      for await (const f of frames(writer.dir, seg)) {
        aborted();
        for (const e of f.entries) if (keep(e)) pending.push(e);
        at = f.at;
        if (pending.length >= (o.frameEntries ?? 2000)) await flush();
      }
    }
    await flush();
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(path, { force: true });
    throw err;
  }
  closeSync(fd);
  fsyncPath(writer.dir);
  await o.onStep?.('written');

  if (writer.isClosed) {
    rmSync(path, { force: true });
    return { compacted: false, reason: 'the archive was closed during compaction' };
  }
  const summary: CompactionSummary = {
    at: started, cutoff: o.cutoff, replaced: candidates.map((s) => s.file), entriesBefore: before, entriesAfter: out.entries,
    tasksDropped, tasksKept, ...(out.entries > 0 ? { into: file } : {}),
  };
  writer.replaceSegments(candidates, out.entries > 0 ? out : undefined, summary);
  await o.onStep?.('committed');
  if (out.entries === 0) rmSync(path, { force: true });
  for (const s of candidates) rmSync(join(writer.dir, s.file), { force: true });
  fsyncPath(writer.dir);
  await o.onStep?.('deleted');
  return { compacted: true, summary, ms: now() - started };
}
