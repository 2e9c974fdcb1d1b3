/**
 * Segment files: the archive's unit of storage. A segment is a sequence of frames, one
 * per archived batch, each independently compressed and checksummed:
 *
 *   offset  size  field
 *   0       4     magic `SSA1`
 *   4       4     payload length in bytes (uint32 BE)
 *   8       4     CRC-32 of the payload (uint32 BE, zlib.crc32)
 *   12      n     payload: gzip(JSON `{ "at": epochMs, "e": [[stream, id, [field, value, …]], …] }`)
 *
 * `stream` is the logical stream name (`events`, `tasks:high`, …; see streams.ts), not the
 * Redis key, so an archive can be restored under another prefix or partition.
 *
 * A writer killed mid-frame leaves a torn tail: a short header, a short payload, a bad
 * CRC or a payload that does not gunzip. `readSegment` stops at the first such frame and
 * reports it; every frame before it is returned intact. Frames are only ever appended
 * and fsynced before the manifest names them (archive.ts).
 */
import { crc32, gunzipSync, gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';

export const FRAME_MAGIC = Buffer.from('SSA1', 'ascii');
export const FRAME_HEADER_BYTES = 12;
/** A frame larger than this is treated as corruption (a torn length field), not read. */
export const MAX_FRAME_BYTES = 256 * 1024 * 1024;

/** One archived stream entry. */
export interface ArchivedEntry {
  /** Logical stream name (`events`, `results`, `tasks:critical`, …). */
  stream: string;
  /** The entry's original stream id. */
  id: string;
  /** Flat field/value list, exactly as XREAD returned it. */
  fields: string[];
}

export interface Frame {
  /** Epoch ms when the batch was archived. */
  at: number;
  entries: ArchivedEntry[];
}

export function encodeFrame(frame: Frame): Buffer {
  const json = JSON.stringify({ at: frame.at, e: frame.entries.map((x) => [x.stream, x.id, x.fields]) });
  const payload = gzipSync(Buffer.from(json, 'utf8'), { level: 3 });
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  FRAME_MAGIC.copy(header, 0);
  header.writeUInt32BE(payload.length, 4);
  header.writeUInt32BE(crc32(payload), 8);
  return Buffer.concat([header, payload]);
}

/** Why reading stopped before the end of a segment. */
export interface TornTail {
  /** Byte offset of the first unreadable frame; everything before it is good. */
  offset: number;
  reason: string;
}

export interface SegmentRead {
  frames: Frame[];
  /** Bytes of whole, checksum-valid frames from the start of the file. */
  validBytes: number;
  fileBytes: number;
  tornTail?: TornTail;
}

/**
 * Decodes frames one at a time (callers that must not block the event loop for a whole
 * segment yield between them); never throws on bad data. Returns the torn tail, if any.
 */
export function* iterateFrames(buf: Buffer, pos: { offset: number } = { offset: 0 }): Generator<Frame, TornTail | undefined> {
  const torn = (reason: string): TornTail => ({ offset: pos.offset, reason });
  while (pos.offset < buf.length) {
    const off = pos.offset;
    if (buf.length - off < FRAME_HEADER_BYTES) return torn(`short frame header (${buf.length - off} of ${FRAME_HEADER_BYTES} bytes)`);
    if (!buf.subarray(off, off + 4).equals(FRAME_MAGIC)) return torn('bad frame magic');
    const len = buf.readUInt32BE(off + 4);
    const sum = buf.readUInt32BE(off + 8);
    if (len > MAX_FRAME_BYTES) return torn(`frame length ${len} exceeds ${MAX_FRAME_BYTES}`);
    const start = off + FRAME_HEADER_BYTES;
    if (buf.length - start < len) return torn(`short frame payload (${buf.length - start} of ${len} bytes)`);
    const payload = buf.subarray(start, start + len);
    if (crc32(payload) !== sum) return torn('checksum mismatch');
    let parsed: { at: number; e: [string, string, string[]][] };
    try {
      parsed = JSON.parse(gunzipSync(payload).toString('utf8')) as typeof parsed;
    } catch (err) {
      return torn(`payload does not decode: ${(err as Error).message}`);
    }
    pos.offset = start + len;
    yield { at: parsed.at, entries: parsed.e.map(([stream, id, fields]) => ({ stream, id, fields })) };
  }
  return undefined;
}

/** Decodes every frame of a buffer; never throws on bad data. */
export function decodeFrames(buf: Buffer): SegmentRead {
  const frames: Frame[] = [];
  const pos = { offset: 0 };
  const it = iterateFrames(buf, pos);
  for (let r = it.next(); ; r = it.next()) {
    if (r.done) return { frames, validBytes: pos.offset, fileBytes: buf.length, ...(r.value ? { tornTail: r.value } : {}) };
    frames.push(r.value);
  }
}

/**
 * Reads one segment file. `limitBytes` (the length the manifest committed) hides a frame
 * that a live writer is appending right now; bytes past it are reported in `fileBytes`.
 */
export function readSegment(path: string, limitBytes?: number): SegmentRead {
  const all = readFileSync(path);
  const buf = limitBytes === undefined ? all : all.subarray(0, Math.min(limitBytes, all.length));
  const r = decodeFrames(buf);
  return { ...r, fileBytes: all.length };
}
