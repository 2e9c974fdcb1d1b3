import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArchiveWriter, readArchive, verifyArchive, encodeFrame, decodeFrames } from '../src';
import { tempDir } from './helpers';

const batch = (stream: string, from: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({ stream, id: `${from + i}-0`, fields: ['v', '1', 'i', String(from + i)] }));

test('frames round-trip through gzip + CRC', () => {
  const entries = batch('events', 1, 50);
  const buf = Buffer.concat([encodeFrame({ at: 1, entries }), encodeFrame({ at: 2, entries: batch('results', 60, 2) })]);
  const r = decodeFrames(buf);
  assert.equal(r.tornTail, undefined);
  assert.equal(r.frames.length, 2);
  assert.deepEqual(r.frames[0]?.entries, entries);
  assert.equal(r.validBytes, buf.length);
});

test('archive round trip: appends, resumes from cursors after reopen, never archives an entry twice', () => {
  const dir = tempDir();
  const w = ArchiveWriter.open({ dir, prefix: 'ss', partition: 'p0' });
  assert.equal(w.append(batch('events', 1, 10)), 10);
  assert.equal(w.append([...batch('events', 5, 10), ...batch('tasks:high', 3, 2)]), 4 + 2); // 5..10 already archived
  w.close();
  const w2 = ArchiveWriter.open({ dir, prefix: 'ss', partition: 'p0' });
  assert.equal(w2.cursor('events'), '14-0');
  assert.equal(w2.cursor('tasks:high'), '4-0');
  w2.append(batch('events', 15, 1));
  w2.close();
  const r = readArchive(dir);
  assert.deepEqual(r.entries.filter((e) => e.stream === 'events').map((e) => e.id), Array.from({ length: 15 }, (_, i) => `${i + 1}-0`));
  assert.deepEqual(r.problems, []);
});

test('segments rotate at the size limit and read back in order', () => {
  const dir = tempDir();
  const w = ArchiveWriter.open({ dir, prefix: 'ss', partition: 'p0', segmentMaxBytes: 4096 });
  for (let i = 0; i < 40; i++) w.append(batch('events', i * 20 + 1, 20));
  w.close();
  const r = readArchive(dir);
  assert.ok(r.manifest.segments.length > 1, `segments: ${r.manifest.segments.length}`);
  assert.equal(r.entries.length, 800);
  assert.equal(verifyArchive(dir).ok, true);
});

test('a torn tail (writer killed mid-frame) is detected by checksum; every frame before it is kept', () => {
  const dir = tempDir();
  const w = ArchiveWriter.open({ dir, prefix: 'ss', partition: 'p0' });
  w.append(batch('events', 1, 5));
  w.append(batch('events', 6, 5));
  const seg = join(dir, w.manifest.segments[0]!.file);
  w.close();
  // kill -9 mid-write: half of a third frame reaches the disk, the manifest never hears of it
  const third = encodeFrame({ at: 3, entries: batch('events', 11, 5) });
  appendFileSync(seg, third.subarray(0, third.length - 7));
  let r = readArchive(dir);
  assert.equal(r.entries.length, 10);
  assert.match(r.segments[0]?.tornTail?.reason ?? '', /short frame payload/);
  assert.deepEqual(r.problems, [], 'bytes past the committed length are not a problem');

  // a full-length frame with a flipped payload byte: the CRC catches it
  writeFileSync(seg, readFileSync(seg).subarray(0, statSync(seg).size - (third.length - 7)));
  const bad = Buffer.from(third);
  bad[bad.length - 3] = (bad[bad.length - 3] ?? 0) ^ 0xff;
  appendFileSync(seg, bad);
  r = readArchive(dir);
  assert.equal(r.entries.length, 10);
  assert.equal(r.segments[0]?.tornTail?.reason, 'checksum mismatch');

  // reopening truncates the uncommitted tail and carries on after entry 10
  const w2 = ArchiveWriter.open({ dir, prefix: 'ss', partition: 'p0' });
  assert.equal(w2.cursor('events'), '10-0');
  w2.append(batch('events', 11, 5));
  w2.close();
  r = readArchive(dir);
  assert.equal(r.entries.length, 15);
  assert.equal(r.segments[0]?.tornTail, undefined);
});

test('damage inside committed bytes is reported as a problem by verify', () => {
  const dir = tempDir();
  const w = ArchiveWriter.open({ dir, prefix: 'ss', partition: 'p0' });
  w.append(batch('events', 1, 5));
  w.append(batch('events', 6, 5));
  const seg = join(dir, w.manifest.segments[0]!.file);
  w.close();
  const buf = readFileSync(seg);
  buf[20] = (buf[20] ?? 0) ^ 0xff;
  writeFileSync(seg, buf);
  const v = verifyArchive(dir);
  assert.equal(v.ok, false);
  assert.match(v.problems.join(), /committed bytes are readable/);
});

test('a second writer on the same directory is refused while the first lives', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'LOCK'), String(process.ppid));
  assert.throws(() => ArchiveWriter.open({ dir, prefix: 'ss', partition: 'p0' }), /being written by process/);
});
