/**
 * Chaos (c): poison entries written straight into the task lanes, next to real traffic.
 *
 * Each one is something a decoder must refuse: garbage fields, a wrong schema version,
 * an unknown task type, params that fail the type's schema or are not JSON, a priority
 * that is not the lane's, missing or malformed fields, and one entry with an 8 MB field.
 * Each must end in `dead-letter` exactly once with a reason that names the problem,
 * while every process stays up, nothing retries them forever (the dead-letter count
 * stays put, CPU stays idle) and the real tasks all finish.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { startRedis, type RedisServer } from '@solvestream/testkit';
import { encodeTaskEntry, fieldsToObject, keyspace, objectToFields, type Priority } from '@solvestream/contracts';
import {
  auditResults, awaitAll, countsLine, cpuShare, isAlive, markedTask, readDeadLetter, runId, startSystem,
  submitPaced, waitDrained, type System,
} from '../src';

let redis: RedisServer;
let system: System;

before(async () => {
  redis = await startRedis({ aof: true });
  system = await startSystem({ redisUrl: redis.url, workers: 2, supervisors: 1, leaseMs: 2000, supervisorIntervalMs: 200 });
});
after(async () => {
  await system?.stop();
  await redis?.stop();
});

/** A well-formed entry's fields as an object, to be spoiled one field at a time. */
function valid(taskId: string, priority: Priority = 'normal'): Record<string, string> {
  const now = Date.now();
  return fieldsToObject(encodeTaskEntry({
    taskId, type: 'turnstile', tenant: 'default', priority, attempt: 1, submittedAt: now, deadline: now + 60_000,
    params: { websiteURL: 'https://poison.example.com/', websiteKey: '0x4AAAAAAABS7vwvV6VFfMcD' }, trace: {},
  }));
}

interface Poison { name: string; priority: Priority; fields: string[]; reason: RegExp }

const HUGE = 8 * 1024 * 1024;

const POISON: Poison[] = [
  { name: 'garbage fields', priority: 'normal', fields: ['hello', 'world', 'foo', '\u0000\u00ff'], reason: /unsupported entry version null/ },
  { name: 'wrong version', priority: 'normal', fields: objectToFields({ ...valid('p-version'), v: '99' }), reason: /unsupported entry version "99"/ },
  { name: 'unknown type', priority: 'high', fields: objectToFields({ ...valid('p-type', 'high'), type: 'funcaptcha' }), reason: /unknown task type "funcaptcha"/ },
  { name: 'params fail the schema', priority: 'normal', fields: objectToFields({ ...valid('p-schema'), params: '{"websiteURL":"ftp://x","websiteKey":"k"}' }), reason: /params\.websiteURL/ },
  { name: 'params not JSON', priority: 'low', fields: objectToFields({ ...valid('p-json', 'low'), params: '{not json' }), reason: /params: is not valid JSON/ },
  { name: 'priority not the lane', priority: 'low', fields: objectToFields(valid('p-lane', 'high')), reason: /priority high does not match lane/ },
  { name: 'unknown priority', priority: 'high', fields: objectToFields({ ...valid('p-prio'), priority: 'urgent' }), reason: /unknown priority "urgent"/ },
  { name: 'task id missing', priority: 'normal', fields: objectToFields({ ...valid('x'), task: undefined }), reason: /task: is missing/ },
  { name: 'attempt malformed', priority: 'normal', fields: objectToFields({ ...valid('p-attempt'), attempt: '-1' }), reason: /attempt: is not an integer >= 1/ },
  { name: 'checkpoint malformed', priority: 'normal', fields: objectToFields({ ...valid('p-checkpoint'), checkpoint: '{"x":1}' }), reason: /checkpoint/ },
  {
    name: 'huge field (8 MB URL)', priority: 'normal',
    fields: objectToFields({ ...valid('p-huge'), params: JSON.stringify({ websiteURL: `https://huge.example.com/${'a'.repeat(HUGE)}`, websiteKey: '0x4AAAAAAABS7vwvV6VFfMcD' }) }),
    reason: /params\.websiteURL/,
  },
];

/**
 * Adds an entry to `lane` and delivers it, in the same step, to a consumer `ghost` that
 * never acks it (a worker that died holding it): only the supervisor's reclaim can find
 * it. With `drop`, the entry is then deleted, so its PEL record has no payload left.
 * Returns the id ghost holds. (Real tasks use the normal lane, so ghost takes no real task.)
 */
const GHOST = `
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
local got = redis.call('XREADGROUP', 'GROUP', 'workers', 'ghost', 'COUNT', 1, 'STREAMS', KEYS[1], '>')
local held = got[1][2][1][1]
if ARGV[1] == 'drop' then redis.call('XDEL', KEYS[1], held) end
return held`;

test('poison entries end in dead-letter with their reason; nothing crashes or spins; real tasks finish', async () => {
  const ks = keyspace();
  const run = runId();
  const c = new Redis(redis.url);
  try {
    const first = submitPaced(system.apiUrl, Array.from({ length: 100 }, (_, i) => markedTask(run, i)), { batch: 20, everyMs: 100 });
    const entryIds = new Map<string, Poison>();
    // Entry ids are per stream: the same id may exist in two lanes.
    for (const p of POISON) entryIds.set(`${ks.lane(p.priority)} ${String(await c.xadd(ks.lane(p.priority), '*', ...p.fields))}`, p);
    // A poison entry held by a dead consumer: the supervisor's reclaim must dead-letter it.
    const ghostPoison: Poison = { name: 'held by a dead consumer', priority: 'critical', fields: ['v', '1', 'task', 'p-ghost', 'junk', 'x'], reason: /priority: is missing/ };
    const ghostId = String(await c.eval(GHOST, 1, ks.lane('critical'), 'keep', ...ghostPoison.fields));
    entryIds.set(`${ks.lane('critical')} ${ghostId}`, ghostPoison);
    // And one whose payload was deleted while pending: nothing to dead-letter, but it must leave the PEL.
    await c.eval(GHOST, 1, ks.lane('critical'), 'drop', 'v', '1', 'task', 'p-gone');
    const second = submitPaced(system.apiUrl, Array.from({ length: 100 }, (_, i) => markedTask(run, 100 + i)), { batch: 20, everyMs: 100 });
    const posted = [...(await first), ...(await second)];
    const ids = posted.map((p) => (p.ok ? p.id : assert.fail(`submit refused: ${p.status} ${p.body}`)));
    const states = await awaitAll(system.apiUrl, ids, 120_000);
    const rest = await waitDrained(c, ks);

    const dead = await readDeadLetter(c, ks);
    // Nothing spins: over a few lease periods the dead-letter count stays put and no process burns CPU.
    const cpu = await cpuShare(system.all(), 5000);
    const deadLater = (await c.xlen(ks.deadLetter));
    const overHttp = (await (await fetch(`${system.supervisorUrls[0]}/v1/dead-letter?limit=1000`)).json()) as { items: { id: string; reason: string }[] };
    const results = await auditResults(c, ks);

    const busiest = Object.entries(cpu).sort((a, b) => b[1] - a[1])[0] ?? ['none', 0];
    countsLine('chaos(c) poison', {
      poison: POISON.length + 1, deletedWhilePending: 1, deadLettered: dead.length, deadLetteredLater: deadLater, listedOverHttp: overHttp.items.length,
      accepted: ids.length, answered: states.length, solved: states.filter((s) => s.status === 'solved').length,
      results: results.entries, duplicateResults: results.duplicates, leftInLanes: rest.lanes, pending: rest.pending,
      busiest: `${busiest[0]}@${(busiest[1] * 100).toFixed(1)}%`,
    });
    for (const d of dead) console.log(`  dead-letter ${entryIds.get(`${d.stream} ${d.entry}`)?.name ?? '?'}: ${d.reason}`);

    const expected = POISON.length + 1;
    assert.equal(dead.length, expected, 'each poison entry dead-lettered exactly once');
    for (const d of dead) {
      const p = entryIds.get(`${d.stream} ${d.entry}`);
      assert.ok(p, `dead-letter ${d.id} names a poison entry (${d.stream} ${d.entry})`);
      assert.equal(d.kind, 'poison');
      assert.match(d.reason ?? '', p.reason, `${p.name}: the reason names the problem`);
    }
    assert.equal(new Set(dead.map((d) => `${d.stream} ${d.entry}`)).size, expected, 'no poison entry dead-lettered twice');
    const byGhost = dead.find((d) => d.task === 'p-ghost');
    assert.match(byGhost?.consumer ?? '', /^supervisor-/, 'the poison a dead consumer held was dead-lettered by the supervisor');
    assert.equal(deadLater, expected, 'the dead-letter count stays put');
    assert.equal(overHttp.items.length, expected, 'the operator sees them over HTTP');
    assert.ok(states.every((s) => s.status === 'solved'), 'the real tasks all solved');
    assert.equal(results.entries, ids.length);
    assert.equal(results.duplicates, 0);
    assert.deepEqual(rest, { lanes: 0, pending: 0, delayed: 0 }, 'nothing left in the lanes or pending');
    for (const p of system.all()) assert.ok(isAlive(p), `${p.name} still running`);
    for (const [name, share] of Object.entries(cpu)) assert.ok(share < 0.5, `${name} idles (${(share * 100).toFixed(1)}% of a core)`);
  } finally {
    c.disconnect();
  }
});
