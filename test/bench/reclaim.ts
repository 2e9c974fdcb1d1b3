/**
 * Benchmark (printed, not asserted): time from a worker's `kill -9` to its tasks
 * resuming on another worker, against the configured lease.
 *
 * Each round: producer, 2 workers, 1 supervisor and the simulator on a private
 * redis-server; 100 slow tasks (in flight for ~20 s); kill -9 one worker; read the
 * `claimed` events of the tasks it held. Resume time = claim time elsewhere − kill time.
 * Goal: every task resumes within lease + one supervisor interval.
 *
 *   npm run bench -w @solvestream/system-tests       (after npm run build)
 *   LEASE_MS=5000 INTERVAL_MS=500 ROUNDS=5 npm run bench -w @solvestream/system-tests
 */
import Redis from 'ioredis';
import { startRedis } from '@solvestream/testkit';
import { decodeEventEntry, fieldsToObject, keyspace, WORKERS_GROUP } from '@solvestream/contracts';
import { kill9, mapLimit, startSystem, submit } from '../src';

const LEASE_MS = Number(process.env.LEASE_MS ?? 3000);
const INTERVAL_MS = Number(process.env.INTERVAL_MS ?? 250);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const TASKS = 100;

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

async function round(): Promise<number[]> {
  const server = await startRedis();
  const system = await startSystem({
    redisUrl: server.url, workers: 2, supervisors: 1, leaseMs: LEASE_MS, supervisorIntervalMs: INTERVAL_MS,
    simEnv: { SIM_LATENCY_SCALE: '1', SIM_LATENCY_RECAPTCHA_V2_MS: '20000-20000' },
    workerEnv: { POLL_FIRST_DELAY_SCALE: '0.1', POLL_INTERVAL_MS: '1000' },
  });
  const redis = new Redis(server.url);
  const ks = keyspace();
  try {
    await mapLimit(Array.from({ length: TASKS }, (_, i) => i), 20, (i) => submit(system.apiUrl, {
      type: 'recaptcha_v2', params: { websiteURL: `https://bench${i}.example/`, websiteKey: '6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-' },
    }));
    const victim = system.workers[0]!;
    // Wait until the victim holds tasks and has renewed their leases at least once.
    let held: [string, string][] = [];
    for (let i = 0; i < 100 && held.length === 0; i++) {
      held = ((await redis.xpending(ks.lane('normal'), WORKERS_GROUP, '-', '+', 1000, victim.name)) as [string, string][]);
      if (held.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, LEASE_MS / 2));
    const taskIds = new Set<string>();
    for (const [entryId] of held) {
      const [e] = (await redis.xrange(ks.lane('normal'), entryId, entryId)) as [string, string[]][];
      if (e) taskIds.add(fieldsToObject(e[1]).task!);
    }
    const before = ((await redis.xrevrange(ks.events, '+', '-', 'COUNT', 1)) as [string, string[]][])[0]?.[0] ?? '0-0';
    const killedAt = Date.now();
    await kill9(victim);
    const resumed = new Map<string, number>();
    let cursor = before;
    while (resumed.size < taskIds.size && Date.now() - killedAt < LEASE_MS * 4 + 10_000) {
      const page = (await redis.xrange(ks.events, `(${cursor}`, '+', 'COUNT', 1000)) as [string, string[]][];
      for (const [id, f] of page) {
        cursor = id;
        const d = decodeEventEntry(id, f);
        if (d.ok && d.value.event === 'claimed' && taskIds.has(d.value.taskId) && d.value.data.consumer !== victim.name && !resumed.has(d.value.taskId)) {
          resumed.set(d.value.taskId, d.value.at - killedAt);
        }
      }
      if (page.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    if (resumed.size < taskIds.size) console.error(`  only ${resumed.size}/${taskIds.size} tasks resumed`);
    return [...resumed.values()];
  } finally {
    redis.disconnect();
    await system.stop();
    await server.stop();
  }
}

async function main(): Promise<void> {
  console.log(`reclaim benchmark: lease ${LEASE_MS} ms, supervisor interval ${INTERVAL_MS} ms, ${ROUNDS} rounds`);
  const goal = LEASE_MS + INTERVAL_MS;
  const rows: string[] = [];
  const all: number[] = [];
  for (let r = 1; r <= ROUNDS; r++) {
    const xs = await round();
    all.push(...xs);
    rows.push(`| ${r} | ${xs.length} | ${pct(xs, 50)} | ${Math.max(...xs)} | ${(Math.max(...xs) / goal).toFixed(2)} |`);
  }
  console.log(['', `goal: every task resumes within lease + interval = ${goal} ms`, '',
    '| round | tasks held by the killed worker | median resume ms | max resume ms | max / goal |',
    '|---|---|---|---|---|', ...rows,
    `| all | ${all.length} | ${pct(all, 50)} | ${Math.max(...all)} | ${(Math.max(...all) / goal).toFixed(2)} |`].join('\n'));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
