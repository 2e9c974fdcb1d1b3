/**
 * Retention: compaction drops finished tasks from segments past the retention and keeps
 * every unfinished one restorable (lane entry, events, checkpoint); a process killed
 * (SIGKILL) at any step of a compaction leaves an archive that verifies and restores.
 * Real Redis throughout; the archive's clock is faked so that "hours old" takes no time.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { startRedis, waitFor, type RedisServer } from '@solvestream/testkit';
import { decodeTaskEntry, keyspace, readTask, Transitions, WORKERS_GROUP } from '@solvestream/contracts';
import { run } from '../src/cli';
import { ArchiveWriter, compactArchive, DrService, readArchive, restore, verifyArchive, type ArchivedEntry } from '../src';
import { result, silent, tempDir, workload } from './helpers';

const keys = keyspace({ prefix: 'ss', partition: 'p0' });
const HOUR = 3_600_000;
const T0 = Date.UTC(2030, 0, 1);
let src: RedisServer;
let dst: RedisServer;
let rs: Redis;
let rd: Redis;

before(async () => {
  [src, dst] = await Promise.all([startRedis(), startRedis()]);
  [rs, rd] = [new Redis(src.url), new Redis(dst.url)];
});
after(async () => {
  rs.disconnect();
  rd.disconnect();
  await Promise.all([src.stop(), dst.stop()]);
});

/** Archives everything new in Redis with the archive clock at `at`. */
async function archiveAt(w: ArchiveWriter, clock: { t: number }, at: number): Promise<void> {
  clock.t = at;
  const reader = new Redis(src.url);
  try {
    // not closed: close() would close the writer, which the test goes on using
    await new DrService({ redis: rs, reader, keys, writer: w, logger: silent, mode: 'manual', instance: 't', blockMs: 10 }).catchUp();
  } finally {
    reader.disconnect();
  }
}

const tasksIn = (entries: readonly ArchivedEntry[]): Set<string> => {
  const out = new Set<string>();
  for (const e of entries) {
    const f: Record<string, string> = {};
    for (let i = 0; i + 1 < e.fields.length; i += 2) f[e.fields[i] as string] = e.fields[i + 1] as string;
    const d = e.stream.startsWith('tasks:') ? decodeTaskEntry(e.fields) : undefined;
    const id = d?.ok ? d.value.taskId : f.task;
    if (id) out.add(id);
  }
  return out;
};
const ofTask = (entries: readonly ArchivedEntry[], id: string): ArchivedEntry[] => entries.filter((e) => tasksIn([e]).has(id));

/** Finishes an in-flight task of `workload` (claimed by w1 with a checkpoint). */
async function finish(id: string, priority: 'high' | 'normal'): Promise<void> {
  const tr = new Transitions(rs, keys);
  const entryId = await rs.hget(keys.task(id), 'entryId');
  await tr.complete({ result: result(id), priority, entryId: entryId ?? '', consumer: 'w1', now: Date.now() });
}

/**
 * An archive of two generations: `old` tasks archived at T0 (segment 1), then at T0 + 2 h
 * one old in-flight task finishes and `new` tasks arrive (segment 2, by age rotation).
 */
async function twoGenerations(t0 = T0): Promise<{ dir: string; old: Awaited<ReturnType<typeof workload>>; fresh: Awaited<ReturnType<typeof workload>>; clock: { t: number }; w: ArchiveWriter }> {
  await rs.flushall();
  const dir = tempDir();
  const clock = { t: t0 };
  const w = ArchiveWriter.open({ dir, prefix: 'ss', partition: 'p0', segmentMaxAgeMs: HOUR, now: () => clock.t });
  const old = await workload(rs, keys, 4, 'old');
  await rs.xadd(keys.config, '*', 'v', '1', 'version', '1', 'doc', '{}'); // config history: never dropped
  await rs.xadd(keys.alerts, '*', 'v', '1', 'kind', 'test', 'message', 'old alert');
  await archiveAt(w, clock, t0);
  await finish('flight-old0', 'normal'); // finishes late: its result lands in segment 2
  const fresh = await workload(rs, keys, 2, 'new');
  await archiveAt(w, clock, t0 + 2 * HOUR);
  assert.equal(w.manifest.segments.length, 2, 'the age limit sealed segment 1');
  return { dir, old, fresh, clock, w };
}

test('retention drops finished old tasks, keeps every unfinished one; a restore still requeues them with their checkpoints', async () => {
  const { dir, old, fresh, clock, w } = await twoGenerations();
  const before = readArchive(dir).entries;
  const seg1 = w.manifest.segments[0]?.file as string;

  const r = await compactArchive(w, { cutoff: T0 + HOUR, now: () => clock.t });
  assert.ok(r.compacted, JSON.stringify(r));
  assert.deepEqual(r.summary.replaced, [seg1]);
  assert.equal(r.summary.tasksDropped, old.done.length + old.cancelled.length);
  assert.equal(r.summary.tasksKept, old.flight.length + old.queued.length, 'flight-old0 stays: its outcome is newer than the cutoff');
  assert.ok(!existsSync(join(dir, seg1)), 'the replaced segment file is gone');

  const after = readArchive(dir).entries;
  const present = tasksIn(after);
  for (const id of [...old.done, ...old.cancelled]) assert.ok(!present.has(id), `${id} (finished, old) left the archive`);
  for (const id of [...old.flight, ...old.queued, ...fresh.done, ...fresh.flight, ...fresh.queued, ...fresh.cancelled]) {
    assert.deepEqual(ofTask(after, id), ofTask(before, id), `${id}: every entry kept, unchanged`);
  }
  assert.equal(after.filter((e) => e.stream === 'config').length, 1, 'config history kept');
  assert.equal(after.filter((e) => e.stream === 'alerts').length, 0, 'old alerts dropped');
  const v = verifyArchive(dir);
  assert.deepEqual([v.ok, v.problems, v.strays], [true, [], []]);

  const again = await compactArchive(w, { cutoff: T0 + HOUR, now: () => clock.t });
  assert.equal(again.compacted, false, 'nothing more to drop: the compacted segment is not rewritten');

  await rd.flushall();
  const report = await restore({ redis: rd, keys, archive: dir, holdMs: 0 }); // no hold: every unfinished task straight to its lane (the hold: restore.test.ts)
  assert.deepEqual(report.unrecoverable, []);
  assert.equal(report.requeued, old.flight.length - 1 + old.queued.length + fresh.flight.length + fresh.queued.length);
  for (const id of [...old.done, ...old.cancelled]) assert.equal(await readTask(rd, keys, id), undefined, `${id} not restored`);
  assert.equal((await readTask(rd, keys, 'flight-old0'))?.status, 'solved');
  const lanes = new Map<string, ReturnType<typeof decodeTaskEntry>>();
  for (const lane of keys.lanes) {
    const reply = (await rd.xreadgroup('GROUP', WORKERS_GROUP, 'w9', 'COUNT', 1000, 'STREAMS', lane, '>')) as [string, [string, string[]][]][] | null;
    for (const [, f] of reply?.[0]?.[1] ?? []) { const d = decodeTaskEntry(f); if (d.ok) lanes.set(d.value.taskId, d); }
  }
  for (const id of [...old.flight.slice(1), ...fresh.flight]) {
    const d = lanes.get(id);
    assert.ok(d?.ok, `${id} requeued`);
    assert.equal(d.value.checkpoint?.providerTaskId, `p-${id}`, `${id} keeps its checkpoint (polled, not paid again)`);
  }
  for (const id of [...old.queued, ...fresh.queued]) assert.ok(lanes.has(id), `${id} requeued`);

  // Later, segment 2 ages too: the task that finished late goes, with its old events.
  await rs.xadd(keys.control, '*', 'v', '1', 'cmd', 'noop');
  await archiveAt(w, clock, T0 + 5 * HOUR); // rotates: segment 2 is sealed
  const r2 = await compactArchive(w, { cutoff: T0 + 3 * HOUR, now: () => clock.t });
  assert.ok(r2.compacted);
  const left = tasksIn(readArchive(dir).entries);
  for (const id of ['flight-old0', ...fresh.done, ...fresh.cancelled]) assert.ok(!left.has(id), `${id} left the archive`);
  for (const id of [...old.flight.slice(1), ...old.queued, ...fresh.flight, ...fresh.queued]) assert.ok(left.has(id), `${id} kept`);
  assert.equal(verifyArchive(dir).ok, true);
  w.close();

  // New segments never reuse a name the compaction freed.
  const w2 = ArchiveWriter.open({ dir, prefix: 'ss', partition: 'p0', segmentMaxAgeMs: HOUR, now: () => T0 + 9 * HOUR });
  const names = w2.manifest.segments.map((s) => s.file);
  w2.append([{ stream: 'control', id: `${T0 + 9 * HOUR}-0`, fields: ['v', '1'] }]);
  assert.equal(new Set(w2.manifest.segments.map((s) => s.file)).size, w2.manifest.segments.length);
  assert.ok(!names.includes(w2.manifest.segments.at(-1)?.file as string));
  w2.close();
  assert.equal(readArchive(dir).entries.at(-1)?.stream, 'control');
});

/** Runs one compaction in a child process that SIGKILLs itself right after `step`. */
function compactAndDie(dir: string, cutoff: number, step: string): Promise<NodeJS.Signals | null> {
  const child = spawn(process.execPath, [join(__dirname, 'compact-child.js'), dir, String(cutoff), step, '3'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => child.once('exit', (code, signal) => (code ? reject(new Error(`child exited ${code}: ${err}`)) : resolve(signal))));
}

test('kill -9 at any step of a compaction leaves a valid archive that restores every unfinished task; the next open cleans up', async () => {
  const { dir, old, fresh, w } = await twoGenerations();
  w.close();
  const cutoff = T0 + HOUR;
  const unfinished = [...old.flight.slice(1), ...old.queued, ...fresh.flight, ...fresh.queued];
  // The reference: the same compaction, uninterrupted.
  const ref = tempDir();
  cpSync(dir, ref, { recursive: true });
  const wr = ArchiveWriter.open({ dir: ref, prefix: 'ss', partition: 'p0' });
  assert.ok((await compactArchive(wr, { cutoff, frameEntries: 3 })).compacted);
  wr.close();
  const expected = readArchive(ref).entries;

  for (const step of ['read', 'writing', 'written', 'committed', 'deleted']) {
    const d = tempDir();
    cpSync(dir, d, { recursive: true });
    assert.equal(await compactAndDie(d, cutoff, step), 'SIGKILL', `${step}: the child was killed`);

    const v = verifyArchive(d);
    assert.deepEqual([v.ok, v.problems], [true, []], `${step}: the archive verifies`);
    const committed = step === 'committed' || step === 'deleted';
    if (step === 'writing' || step === 'written') assert.equal(v.strays.length, 1, `${step}: the half-made segment is a stray`);
    if (step === 'committed') assert.ok(v.strays.length >= 1, `${step}: the replaced segment is a stray`);
    await rd.flushall();
    const report = await restore({ redis: rd, keys, archive: d });
    assert.deepEqual(report.unrecoverable, [], step);
    for (const id of unfinished) {
      const t = await readTask(rd, keys, id);
      assert.equal(t?.status, 'queued', `${step}: ${id} restored`);
      if (id.startsWith('flight')) assert.equal(t?.providerTaskId, `p-${id}`, `${step}: ${id} keeps its checkpoint`);
    }
    for (const id of old.done) assert.equal((await readTask(rd, keys, id))?.status, committed ? undefined : 'solved', `${step}: ${id}`);

    const w2 = ArchiveWriter.open({ dir: d, prefix: 'ss', partition: 'p0' });
    assert.equal(w2.removedStrays.length, v.strays.length, `${step}: open removed the strays`);
    assert.deepEqual(readdirSync(d).filter((f) => f.endsWith('.ssa')).sort(), w2.manifest.segments.map((s) => s.file).sort());
    if (!committed) assert.ok((await compactArchive(w2, { cutoff, frameEntries: 3 })).compacted, `${step}: the compaction runs again`);
    w2.close();
    assert.deepEqual(readArchive(d).entries, expected, `${step}: ends as the uninterrupted compaction`);
  }
});

test('the running service compacts in the background while it keeps archiving', async () => {
  await rs.flushall();
  const dir = tempDir();
  const writer = ArchiveWriter.open({ dir, prefix: 'ss', partition: 'p0', segmentMaxAgeMs: 200 });
  const reader = new Redis(src.url);
  const runs: number[] = [];
  const svc = new DrService({
    redis: rs, reader, keys, writer, logger: silent, mode: 'manual', instance: 't', blockMs: 20,
    retentionMs: 300, compactEveryMs: 100, onCompact: (r) => runs.push(r.summary.tasksDropped),
  });
  await svc.start();
  try {
    const first = await workload(rs, keys, 3, 'a');
    await waitFor('finished tasks compacted away', async () => {
      await rs.xadd(keys.control, '*', 'v', '1', 'cmd', 'tick'); // keeps segments rotating
      const left = tasksIn(readArchive(dir).entries);
      return [...first.done, ...first.cancelled].every((id) => !left.has(id));
    }, { timeoutMs: 15_000, intervalMs: 100 });
    const second = await workload(rs, keys, 2, 'b');
    await waitFor('new tasks archived', () => tasksIn(readArchive(dir).entries).has(second.done[1] as string), { timeoutMs: 10_000 });
    const left = tasksIn(readArchive(dir).entries);
    for (const id of [...first.flight, ...first.queued]) assert.ok(left.has(id), `${id} (unfinished) kept`);
    assert.ok(runs.length > 0 && runs.reduce((a, b) => a + b, 0) >= first.done.length + first.cancelled.length);
    assert.equal(svc.state, 'ARCHIVING');
  } finally {
    await svc.close();
  }
  assert.deepEqual([verifyArchive(dir).ok, verifyArchive(dir).strays], [true, []]);
});

test('`dr compact` runs the retention now: refused while a writer holds the archive, then compacts past ARCHIVE_RETENTION_HOURS', async () => {
  const { dir, old, w } = await twoGenerations(Date.now() - 10 * 24 * HOUR); // segment 1 is ten days old
  const seg1 = w.manifest.segments[0]?.file as string;
  const dr = async (extra: Record<string, string> = {}): Promise<{ code: number; text: string }> => {
    const out: string[] = [];
    const code = await run(['compact'], (line) => out.push(line), { ARCHIVE_DIR: dir, ...extra });
    return { code, text: out.join('\n') };
  };
  w.close();
  // Another live process holds the archive (the service): refused, nothing touched.
  writeFileSync(join(dir, 'LOCK'), String(process.ppid));
  let r = await dr({ ARCHIVE_RETENTION_HOURS: '24' });
  assert.equal(r.code, 1);
  assert.match(r.text, /is being written by process/);
  assert.ok(existsSync(join(dir, seg1)));
  rmSync(join(dir, 'LOCK'));
  r = await dr({ ARCHIVE_RETENTION_HOURS: '0' });
  assert.deepEqual([r.code, r.text], [0, 'nothing to do: ARCHIVE_RETENTION_HOURS=0 keeps everything']);
  r = await dr({ ARCHIVE_RETENTION_HOURS: '24' });
  assert.equal(r.code, 0, r.text);
  const report = JSON.parse(r.text) as { compacted: boolean; summary: { replaced: string[]; tasksDropped: number } };
  assert.equal(report.compacted, true);
  assert.deepEqual(report.summary.replaced, [seg1]);
  assert.equal(report.summary.tasksDropped, old.done.length + old.cancelled.length);
  assert.equal(verifyArchive(dir).ok, true);
  r = await dr({ ARCHIVE_RETENTION_HOURS: 'soon' });
  assert.equal(r.code, 2);
  assert.match(r.text, /ARCHIVE_RETENTION_HOURS/);
});
