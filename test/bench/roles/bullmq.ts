/**
 * BullMQ doing the benchmark's workload, with BullMQ's documented defaults (job
 * options, lock 30 s, stalled checks, events stream ~10,000, completed jobs kept).
 * Only `concurrency` is set (its default is 1), to the same number of tasks in flight
 * as the solvestream worker.
 *
 *   client   `queue.add('solve', task)` with the same bounded concurrency as the other
 *            clients; results from `QueueEvents` (`completed`), BullMQ's documented way
 *            to learn about finished jobs from another process (`failed` counts too)
 *   worker   a `Worker` whose processor does what a CAPTCHA worker does with the same
 *            provider: `in.php`, then `res.php?action=get` until the token is there,
 *            over a keep-alive agent of 64 sockets (the solvestream worker's provider
 *            concurrency); the token is the job's return value
 *
 *   BENCH_ROLE=client|worker node dist/bench/roles/bullmq.js   (config: BENCH_CLIENT / BENCH_WORKER JSON)
 */
import http from 'node:http';
import { Queue, QueueEvents, Worker } from 'bullmq';
import Redis from 'ioredis';
import { clientMain, type Contender } from '../lib/client';
import { taskBody } from '../lib/tasks';

export const QUEUE = 'captcha';

interface WorkerConfig { redisUrl: string; prefix: string; providerUrl: string; concurrency: number; pollIntervalMs: number }

function post(agent: http.Agent, base: URL, path: string, form: Record<string, string>): Promise<{ status: number; request: string }> {
  const body = new URLSearchParams(form).toString();
  return new Promise((resolve, reject) => {
    const req = http.request({
      hostname: base.hostname, port: base.port, path, method: 'POST', agent,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try { resolve(JSON.parse(Buffer.concat(chunks).toString()) as { status: number; request: string }); } catch (err) { reject(err as Error); }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function worker(): Promise<void> {
  const cfg = JSON.parse(process.env.BENCH_WORKER ?? '{}') as WorkerConfig;
  const base = new URL(cfg.providerUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const connection = new Redis(cfg.redisUrl, { maxRetriesPerRequest: null });
  const w = new Worker(QUEUE, async (job) => {
    const d = job.data as ReturnType<typeof taskBody>;
    const sub = await post(agent, base, '/in.php', { key: 'bench', method: 'userrecaptcha', googlekey: d.params.websiteKey, pageurl: d.params.websiteURL, json: '1' });
    if (sub.status !== 1) throw new Error(`in.php: ${sub.request}`);
    for (;;) {
      const r = await post(agent, base, '/res.php', { key: 'bench', action: 'get', id: sub.request, json: '1' });
      if (r.status === 1) return r.request;
      if (r.request !== 'CAPCHA_NOT_READY') throw new Error(`res.php: ${r.request}`);
      await new Promise((res) => setTimeout(res, cfg.pollIntervalMs));
    }
  }, { connection, prefix: cfg.prefix, concurrency: cfg.concurrency });
  await w.waitUntilReady();
  process.stdout.write('worker ready\n');
  process.on('SIGTERM', () => void w.close().then(() => { connection.disconnect(); process.exit(0); }));
}

async function client(): Promise<void> {
  await clientMain(async (cfg): Promise<Contender> => {
    const connection = new Redis(cfg.redisUrl, { maxRetriesPerRequest: null });
    const queue = new Queue(QUEUE, { connection, prefix: cfg.prefix });
    const events = new QueueEvents(QUEUE, { connection: { url: cfg.redisUrl } as never, prefix: cfg.prefix });
    await events.waitUntilReady();
    let tellResult: (id: string) => void = () => undefined;
    // QueueEvents now and then misses an event (BullMQ #2517): once the events have gone
    // quiet for 2 s while jobs are still unseen, those jobs are looked up, and counted
    // when they have finished (their latency then includes the wait, as it would for a
    // real client). Only then: looking up every job unseen for 2 s, every second, while
    // the events still flowed, cost BullMQ one more Lua call per job and second of
    // queueing (Lua calls per job 2.2 → 4.8 and twice the Redis CPU in a slow run), a
    // load of the bench's making counted against BullMQ.
    const open = new Map<string, number>();
    const told = new Set<string>();
    let lastEventAt = Date.now();
    const tell = (id: string): void => {
      if (told.has(id)) return;
      told.add(id);
      open.delete(id);
      tellResult(id);
    };
    let missed = 0;
    const sweep = setInterval(() => {
      if (Date.now() - lastEventAt < 2000) return;
      const old = [...open].filter(([, at]) => Date.now() - at > 2000).map(([id]) => id);
      void Promise.all(old.map(async (id) => {
        const state = await queue.getJobState(id);
        if (state === 'completed' || state === 'failed') { missed++; tell(id); }
      })).catch(() => undefined);
    }, 1000);
    events.on('completed', ({ jobId }) => { lastEventAt = Date.now(); tell(jobId); });
    // A failed job is a terminal outcome the client learns about too (none are expected).
    let failed = 0;
    events.on('failed', ({ jobId, failedReason }) => {
      lastEventAt = Date.now();
      if (failed++ < 5) process.stderr.write(`bullmq: job ${jobId} failed: ${failedReason}\n`);
      tell(jobId);
    });
    return {
      target: {
        submit: async (i) => {
          const at = Date.now();
          const id = (await queue.add('solve', taskBody(i))).id as string;
          if (!told.has(id)) open.set(id, at);
          return id;
        },
      },
      onResult: (fn) => { tellResult = fn; },
      close: async () => {
        clearInterval(sweep);
        if (failed) process.stderr.write(`bullmq: ${failed} jobs failed\n`);
        if (missed) process.stderr.write(`bullmq: ${missed} completions missed by QueueEvents, found by lookup\n`);
        await events.close();
        await queue.close();
        connection.disconnect();
      },
    };
  });
}

(process.env.BENCH_ROLE === 'worker' ? worker() : client()).catch((err: unknown) => {
  process.stderr.write(`bullmq ${process.env.BENCH_ROLE}: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
