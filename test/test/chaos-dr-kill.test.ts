/**
 * Chaos (h): dr-recovery killed with `kill -9` mid-segment under load, three times.
 *
 * The system takes tasks over HTTP at a steady pace while the archive's writer is killed
 * and restarted; small segments (256 KiB) make it rotate too. What must hold:
 * - the system never notices (dr-recovery is off the task path): every task answered once;
 * - after each kill `dr verify` passes: nothing the manifest committed is damaged;
 * - a torn tail is detected by checksum: a `kill -9` cannot cut a write(2) in half (the
 *   kernel finishes it), a power cut can (the length reached the disk, not all of the
 *   payload), so after the first kill such a frame, with a payload that fails its CRC,
 *   is appended to the active segment. `dr verify` reports it (`checksum mismatch`, past
 *   the committed length, so still ok) and the restarted service truncates it;
 * - nothing archived before a kill is lost, and archiving resumes with no gap: once the
 *   archive has caught up, every history stream in the archive (events, results,
 *   dead-letter, control, alerts, config) holds exactly the ids Redis holds, each once,
 *   and every lane entry still in Redis is archived. Lane entries added and deleted
 *   (task finished) while the writer was down were never readable by anyone: counted
 *   (`laneEntriesNeverSeen`) — their tasks' events and results are in the archive;
 * - the archive restores: `dr restore` into an empty Redis brings back every task.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, gzipSync } from 'node:zlib';
import Redis from 'ioredis';
import { sleep, startRedis, waitFor, type RedisServer } from '@solvestream/testkit';
import { keyspace, PRIORITIES } from '@solvestream/contracts';
import {
  auditResults, awaitAll, countsLine, drCli, fieldOf, isAlive, kill9, markedTask, readArchiveDir, readStream, runId,
  startDr, startSystem, submitPaced, waitDrained, type DrProcess, type System,
} from '../src';

let redis: RedisServer;
let system: System;
let dr: DrProcess;

before(async () => {
  redis = await startRedis({ aof: true });
  system = await startSystem({ redisUrl: redis.url, workers: 2, supervisors: 1, simEnv: { SIM_LATENCY_SCALE: '0.05' } });
  dr = await startDr({ redisUrl: redis.url, keyPrefix: system.keyPrefix, mode: 'auto', env: { SEGMENT_MAX_BYTES: String(256 * 1024) } });
});
after(async () => {
  await dr?.stop();
  await system?.stop();
  await redis?.stop();
});

interface VerifyJson {
  ok: boolean;
  problems: string[];
  segments: { file: string; committedBytes: number; validBytes: number; fileBytes: number; tornTail?: { offset: number; reason: string } }[];
}

/** A frame whose payload does not match its CRC: what a power cut mid-write leaves. */
function tornFrame(): Buffer {
  const payload = gzipSync(Buffer.from(JSON.stringify({ at: Date.now(), e: [['events', '1-0', ['v', '1']]] })));
  const header = Buffer.alloc(12);
  header.write('SSA1', 0, 'latin1');
  header.writeUInt32BE(payload.length, 4);
  header.writeUInt32BE((crc32(payload) ^ 0x5a5a5a5a) >>> 0, 8);
  return Buffer.concat([header, payload]);
}

const HISTORY = ['events', 'results', 'dead-letter', 'control', 'alerts', 'config'] as const;

test('kill -9 of dr-recovery mid-segment under load: committed data intact, torn tail caught, no gap after restart', async () => {
  const N = 1200;
  const run = runId();
  const env = { ARCHIVE_DIR: dr.archiveDir, REDIS_URL: redis.url, KEY_PREFIX: system.keyPrefix };
  const posting = submitPaced(system.apiUrl, Array.from({ length: N }, (_, i) => markedTask(run, i)), { batch: 20, everyMs: 200 });

  const kills: { uncommittedBytes: number; entriesBefore: number }[] = [];
  let torn: { file: string; offset: number; verify: string } | undefined;
  const before: Map<string, string[]>[] = [];
  for (let k = 0; k < 3; k++) {
    await sleep(2000 + k * 700);
    await kill9(dr.proc);
    const v = await drCli(['verify'], env);
    const report = v.json as VerifyJson;
    assert.equal(v.code, 0, `dr verify after kill ${k + 1}: ${v.out}`);
    assert.deepEqual(report.problems, []);
    const active = report.segments.at(-1);
    assert.ok(active);
    const snap = readArchiveDir(dr.archiveDir);
    assert.deepEqual(snap.damaged, []);
    const perStream = new Map<string, string[]>();
    for (const e of snap.entries) perStream.set(e.stream, [...(perStream.get(e.stream) ?? []), e.id]);
    before.push(perStream);
    kills.push({ uncommittedBytes: active.fileBytes - active.committedBytes, entriesBefore: snap.entries.length });
    if (k === 0) {
      // the power-cut case: a frame past the committed bytes whose payload fails its CRC
      const path = join(dr.archiveDir, active.file);
      const offset = active.fileBytes;
      appendFileSync(path, tornFrame());
      const again = await drCli(['verify'], env);
      const seg = (again.json as VerifyJson).segments.find((s) => s.file === active.file);
      assert.equal(again.code, 0, 'a torn tail past the committed bytes loses nothing: verify still passes');
      assert.ok(seg?.tornTail, `verify reports the torn tail: ${again.out}`);
      assert.ok(seg.tornTail.offset <= offset && seg.validBytes >= active.committedBytes, 'every committed byte still reads');
      torn = { file: active.file, offset: seg.tornTail.offset, verify: seg.tornTail.reason };
    }
    await dr.restart();
  }
  const posted = await posting;
  const ids = posted.map((p) => (p.ok ? p.id : ''));
  assert.deepEqual(posted.filter((p) => !p.ok).slice(0, 3), [], 'every submit accepted: dr-recovery is off the task path');
  const states = await awaitAll(system.apiUrl, ids, 180_000);

  const c = new Redis(redis.url);
  const fresh = await startRedis();
  try {
    const ks = keyspace({ prefix: system.keyPrefix });
    await waitDrained(c, ks);
    const results = await auditResults(c, ks);
    await waitFor('the archive caught up with Redis', async () => {
      const st = await drCli(['status'], env);
      const streams = (st.json as { streams?: Record<string, { behind: number }> } | undefined)?.streams;
      return streams && Object.values(streams).every((s) => s.behind === 0);
    }, { timeoutMs: 30_000, intervalMs: 250 });
    await dr.proc.stop(); // SIGTERM: a clean stop, so the files hold exactly the committed bytes

    const v = await drCli(['verify'], env);
    const report = v.json as VerifyJson;
    assert.equal(v.code, 0, v.out);
    assert.deepEqual(report.segments.filter((s) => s.tornTail || s.fileBytes !== s.committedBytes).map((s) => s.file), [], 'the torn tail was truncated');
    const archive = readArchiveDir(dr.archiveDir);
    const archived = new Map<string, string[]>();
    for (const e of archive.entries) archived.set(e.stream, [...(archived.get(e.stream) ?? []), e.id]);

    for (const snap of before) {
      for (const [stream, list] of snap) {
        const now = new Set(archived.get(stream));
        assert.deepEqual(list.filter((id) => !now.has(id)).slice(0, 3), [], `${stream}: nothing archived before a kill was lost`);
      }
    }
    const keyOf: Record<string, string> = { events: ks.events, results: ks.results, 'dead-letter': ks.deadLetter, control: ks.control, alerts: ks.alerts, config: ks.config };
    const compared: Record<string, number> = {};
    for (const s of HISTORY) {
      const inRedis = (await readStream(c, keyOf[s] as string)).map(([id]) => id);
      assert.deepEqual(archived.get(s) ?? [], inRedis, `${s}: the archive holds exactly Redis's entries, in order, each once`);
      compared[s] = inRedis.length;
    }
    let laneEntriesNeverSeen = 0;
    const archivedLaneTasks = new Set(archive.entries.filter((e) => e.stream.startsWith('tasks:')).map((e) => fieldOf(e.fields, 'task')));
    for (const p of PRIORITIES) {
      const got = new Set(archived.get(`tasks:${p}`));
      const inRedis = (await readStream(c, ks.lane(p))).map(([id]) => id);
      assert.deepEqual(inRedis.filter((id) => !got.has(id)), [], `tasks:${p}: every lane entry in Redis is archived`);
      assert.equal(new Set(archived.get(`tasks:${p}`)).size, archived.get(`tasks:${p}`)?.length ?? 0, `tasks:${p}: each entry once`);
    }
    for (const id of ids) if (!archivedLaneTasks.has(id)) laneEntriesNeverSeen++;

    const restored = await drCli(['restore'], { ...env, REDIS_URL: fresh.url });
    assert.equal(restored.code, 0, restored.out);
    const r = restored.json as { terminal: number; requeued: number; unrecoverable: string[] };

    countsLine('chaos(h) dr-recovery kill -9', {
      accepted: ids.length, answered: states.length, results: results.entries, duplicateResults: results.duplicates,
      kills: kills.length, uncommittedBytesAtKill: kills.map((x) => x.uncommittedBytes).join('/'),
      tornTail: torn ? `${torn.file}@${torn.offset} (${torn.verify})` : '-', segments: report.segments.length,
      archivedEntries: archive.entries.length, ...Object.fromEntries(Object.entries(compared).map(([k, n]) => [`${k}Compared`, n])),
      laneEntriesNeverSeen, restoredTerminal: r.terminal, restoredRequeued: r.requeued, unrecoverable: r.unrecoverable.length,
    });

    assert.equal(states.length, N);
    assert.ok(states.every((s) => s.status === 'solved'), 'every task solved');
    assert.equal(results.entries, N);
    assert.equal(results.duplicates, 0);
    assert.equal(torn?.verify, 'checksum mismatch', 'the torn frame was caught by its CRC');
    assert.ok(report.segments.length > 1, 'segments rotated during the run');
    assert.equal(r.terminal, N, 'a restore of the archive brings back every task, finished');
    assert.deepEqual(r.unrecoverable, []);
    for (const p of system.all()) assert.ok(isAlive(p), `${p.name} kept running`);
  } finally {
    c.disconnect();
    await fresh.stop();
  }
});
