/**
 * Reads a dr-recovery archive from disk the way an outsider would: from the file format
 * documented in services/dr-recovery/README.md (manifest.json + `SSA1` frames: magic,
 * uint32 BE length, uint32 BE CRC-32, gzip(JSON)), not through the service's code, so
 * system tests check the format as well as the content.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, gunzipSync } from 'node:zlib';

export interface ArchiveManifestView {
  archiveId: string;
  segments: { file: string; bytes: number; frames: number; entries: number }[];
  cursors: Record<string, string>;
}

export interface ArchivedEntryView {
  stream: string;
  id: string;
  fields: string[];
}

export interface ArchiveView {
  manifest: ArchiveManifestView;
  /** Every checksum-valid entry of the committed bytes, in archive order. */
  entries: ArchivedEntryView[];
  /** Per segment: bytes on disk past the committed length (an uncommitted or torn tail). */
  tails: { file: string; committed: number; onDisk: number }[];
  /** Committed bytes that did not read back (must be empty). */
  damaged: string[];
}

export function readArchiveDir(dir: string): ArchiveView {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ArchiveManifestView;
  const entries: ArchivedEntryView[] = [];
  const tails: ArchiveView['tails'] = [];
  const damaged: string[] = [];
  for (const seg of manifest.segments) {
    const path = join(dir, seg.file);
    if (!existsSync(path)) { if (seg.bytes > 0) damaged.push(`${seg.file}: missing`); continue; }
    const buf = readFileSync(path);
    tails.push({ file: seg.file, committed: seg.bytes, onDisk: buf.length });
    let off = 0;
    while (off < seg.bytes) {
      const len = buf.length - off >= 12 && buf.toString('latin1', off, off + 4) === 'SSA1' ? buf.readUInt32BE(off + 4) : -1;
      const payload = len >= 0 ? buf.subarray(off + 12, off + 12 + len) : Buffer.alloc(0);
      if (len < 0 || payload.length < len || crc32(payload) !== buf.readUInt32BE(off + 8)) {
        damaged.push(`${seg.file}: frame at ${off} does not read`);
        break;
      }
      const frame = JSON.parse(gunzipSync(payload).toString('utf8')) as { e: [string, string, string[]][] };
      for (const [stream, id, fields] of frame.e) entries.push({ stream, id, fields });
      off += 12 + len;
    }
  }
  return { manifest, entries, tails, damaged };
}

/** `field` of a flat field/value list. */
export function fieldOf(fields: readonly string[], field: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === field) return fields[i + 1];
  return undefined;
}

/** Ids of the tasks the archive holds a lane entry or a `submitted` event of. */
export function archivedTaskIds(entries: readonly ArchivedEntryView[]): Set<string> {
  const out = new Set<string>();
  for (const e of entries) {
    const task = fieldOf(e.fields, 'task');
    if (task && (e.stream.startsWith('tasks:') || (e.stream === 'events' && fieldOf(e.fields, 'event') === 'submitted'))) out.add(task);
  }
  return out;
}

/** Epoch ms of a stream id. */
export const idMs = (id: string): number => Number(id.split('-')[0]);
