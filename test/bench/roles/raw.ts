/**
 * The ceiling for any Redis Streams design: the least a task can cost.
 *
 *   client   XADD tasks * (same bounded concurrency as the other clients); results by
 *            XREAD BLOCK on the results stream
 *   worker   XREADGROUP COUNT 500 BLOCK; per batch one pipeline of XADD results (the
 *            same token size as the provider's) + one XACK of every id
 *
 * No provider, no projection, no events, no leases: only the two streams and the group.
 *
 *   BENCH_ROLE=client|worker node dist/bench/roles/raw.js   (config: BENCH_CLIENT / BENCH_WORKER JSON)
 */
import Redis from 'ioredis';
import { clientMain, type Contender } from '../lib/client';
import { TOKEN_PAD } from '../lib/instant-provider';
import { taskBody } from '../lib/tasks';

const keys = (prefix: string): { tasks: string; results: string } => ({ tasks: `${prefix}:tasks`, results: `${prefix}:results` });
type Reply = [string, [string, string[]][]][] | null;

async function worker(): Promise<void> {
  const cfg = JSON.parse(process.env.BENCH_WORKER ?? '{}') as { redisUrl: string; prefix: string };
  const k = keys(cfg.prefix);
  const redis = new Redis(cfg.redisUrl);
  await redis.xgroup('CREATE', k.tasks, 'g', '$', 'MKSTREAM').catch(() => undefined);
  process.stdout.write('worker ready\n');
  let running = true;
  process.on('SIGTERM', () => { running = false; });
  while (running) {
    const reply = (await redis.xreadgroup('GROUP', 'g', 'w1', 'COUNT', 500, 'BLOCK', 1000, 'STREAMS', k.tasks, '>')) as Reply;
    const entries = reply?.[0]?.[1] ?? [];
    if (entries.length === 0) continue;
    const p = redis.pipeline();
    for (const [, fields] of entries) p.xadd(k.results, '*', 'task', fields[1] as string, 'token', `03AGdBq${TOKEN_PAD}`);
    p.xack(k.tasks, 'g', ...entries.map(([id]) => id));
    await p.exec();
  }
  redis.disconnect();
  process.exit(0);
}

async function client(): Promise<void> {
  await clientMain(async (cfg): Promise<Contender> => {
    const k = keys(cfg.prefix);
    const redis = new Redis(cfg.redisUrl);
    const reader = new Redis(cfg.redisUrl);
    let tell: (id: string) => void = () => undefined;
    let open = true;
    let last = (((await reader.xrevrange(k.results, '+', '-', 'COUNT', 1)) as [string, string[]][])[0]?.[0]) ?? '0-0';
    const loop = (async () => {
      while (open) {
        const reply = (await reader.xread('COUNT', 1000, 'BLOCK', 500, 'STREAMS', k.results, last).catch(() => null)) as Reply;
        for (const [id, fields] of reply?.[0]?.[1] ?? []) {
          last = id;
          tell(fields[1] as string);
        }
      }
    })();
    let n = 0;
    return {
      target: {
        submit: async (i) => {
          const id = `t${n++}`;
          await redis.xadd(k.tasks, '*', 'task', id, 'payload', JSON.stringify(taskBody(i)));
          return id;
        },
      },
      onResult: (fn) => { tell = fn; },
      close: async () => {
        open = false;
        reader.disconnect();
        await loop;
        redis.disconnect();
      },
    };
  });
}

(process.env.BENCH_ROLE === 'worker' ? worker() : client()).catch((err: unknown) => {
  process.stderr.write(`raw ${process.env.BENCH_ROLE}: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
