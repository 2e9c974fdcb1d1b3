/**
 * Floors: what the two HTTP legs of a task cost with nothing of a pipeline around them,
 * so that the table can say how much of a task's CPU any design of this shape must
 * spend before it does any queueing (issue 8's throughput goals are a CPU budget on 2
 * cores; see docs/benchmarks.md "Goals").
 *
 *   options.floor = api        a bare fastify app (the producer's version) with one
 *                              route, `POST /v1/tasks`, that validates the body against
 *                              a schema of the same shape and answers 202 with an id,
 *                              entered with `app.inject` as the solvestream client
 *                              enters the producer; the result is "seen" at once
 *   options.floor = provider   a bare undici Pool (the worker's client library) against
 *                              the instant provider: `in.php` per task, then the due ids
 *                              polled together in one `res.php?action=get&ids=` (≤ 100,
 *                              the worker's batch limit), both form POSTs as the worker
 *                              sends them; the provider process's CPU is counted
 *                              (`providerPid`)
 *
 * Run by the `floors` suite as gated clients without a worker (lib/run.ts).
 *
 *   BENCH_ROLE=client node dist/bench/roles/floor.js   (config: BENCH_CLIENT JSON)
 */
import Fastify from 'fastify';
import { Pool } from 'undici';
import { clientMain, type Contender, type ClientConfig } from '../lib/client';
import { taskBody } from '../lib/tasks';

/** The worker's batch limit for one `res.php?action=get&ids=` (2captcha's documented 100). */
const POLL_BATCH = 100;

async function apiFloor(): Promise<Contender> {
  const app = Fastify({ logger: false });
  const params = { type: 'object', required: ['websiteURL', 'websiteKey'], properties: { websiteURL: { type: 'string', maxLength: 2048 }, websiteKey: { type: 'string', maxLength: 256 } } };
  let n = 0;
  app.post('/v1/tasks', {
    schema: { body: { type: 'object', required: ['type', 'params'], additionalProperties: false, properties: { type: { type: 'string' }, params } } },
  }, async (_req, reply) => reply.code(202).send({ id: `t${n++}`, status: 'queued' }));
  await app.ready();
  let tell: (id: string) => void = () => undefined;
  return {
    target: {
      submit: async (i) => {
        const res = await app.inject({ method: 'POST', url: '/v1/tasks', payload: taskBody(i), headers: { authorization: 'Bearer bench' } });
        if (res.statusCode !== 202) throw new Error(`floor api answered ${res.statusCode}: ${res.body}`);
        const id = (res.json() as { id: string }).id;
        tell(id);
        return id;
      },
    },
    onResult: (fn) => { tell = fn; },
    close: () => app.close(),
  };
}

function providerFloor(cfg: ClientConfig): Contender {
  const url = cfg.options?.providerUrl;
  if (!url) throw new Error('floor provider: options.providerUrl is required');
  const pool = new Pool(url, { connections: 64 });
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const post = async (path: string, body: string): Promise<{ status: number; request: string }> => {
    const res = await pool.request({ method: 'POST', path, body, headers: form });
    return JSON.parse(await res.body.text()) as { status: number; request: string };
  };
  let tell: (id: string) => void = () => undefined;
  const due: string[] = [];
  let polling = false;
  // One poller: every id due when it runs goes into one request (up to POLL_BATCH).
  const poll = async (): Promise<void> => {
    polling = true;
    while (due.length) {
      const ids = due.splice(0, POLL_BATCH);
      const r = await post('/res.php', `key=bench&action=get&json=1&ids=${ids.join(',')}`);
      if (r.status !== 1) throw new Error(`floor res.php: ${r.request}`);
      const tokens = r.request.split('|');
      ids.forEach((id, k) => { if (tokens[k]?.startsWith('03A')) tell(id); else due.push(id); });
    }
    polling = false;
  };
  return {
    target: {
      submit: async (i) => {
        const t = taskBody(i);
        const r = await post('/in.php', `key=bench&method=userrecaptcha&googlekey=${encodeURIComponent(t.params.websiteKey)}&pageurl=${encodeURIComponent(t.params.websiteURL)}&json=1`);
        if (r.status !== 1) throw new Error(`floor in.php: ${r.request}`);
        due.push(r.request);
        if (!polling) setImmediate(() => void poll().catch((err: unknown) => { process.stderr.write(`floor poll: ${String(err)}\n`); process.exit(1); }));
        polling = true;
        return r.request;
      },
    },
    onResult: (fn) => { tell = fn; },
    close: () => pool.close(),
  };
}

void clientMain(async (cfg) => (cfg.options?.floor === 'provider' ? providerFloor(cfg) : apiFloor()));
