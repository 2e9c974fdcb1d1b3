/**
 * The benchmarks' provider: a minimal 2captcha v1 server (`/in.php`, `/res.php` with
 * `action=get&id=` and the multi-id `ids=`), answering with as little work as possible
 * so that a benchmark measures the pipeline, not the provider.
 *
 * Why not the simulator: provider-sim models accounts, balances, charges, per-params
 * records and faults behind fastify; on a 2-core machine its own CPU would be counted
 * against the pipeline under test. Workers still reach this server through their real
 * provider client (HTTP keep-alive, concurrency bound, v1 parsing, batched polls).
 *
 * `solveMs` 0 = instant: a task is ready as soon as it is submitted. Otherwise `res.php`
 * answers CAPCHA_NOT_READY until `solveMs` after the submit.
 *
 *   BENCH_SOLVE_MS=0 node dist/bench/roles/provider.js   (prints "listening <port>")
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A token of a realistic size (reCAPTCHA tokens run to several hundred characters). */
export const TOKEN_PAD = 'x'.repeat(400);

export interface InstantProvider {
  port: number;
  stats: { submits: number; polls: number; solved: number };
  close(): Promise<void>;
}

export function startInstantProvider(port = 0, solveMs = 0): Promise<InstantProvider> {
  let next = 1_000_000;
  const submittedAt = new Map<string, number>();
  const stats = { submits: 0, polls: 0, solved: 0 };
  const answer = (id: string, now: number): string => {
    const t = submittedAt.get(id);
    if (t === undefined) return 'ERROR_WRONG_CAPTCHA_ID';
    if (now - t < solveMs) return 'CAPCHA_NOT_READY';
    submittedAt.delete(id);
    stats.solved++;
    return `03AGdBq${id}${TOKEN_PAD}`;
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString());
      let body: string;
      if (req.url === '/in.php') {
        stats.submits++;
        const id = String(next++);
        submittedAt.set(id, Date.now());
        body = `{"status":1,"request":"${id}"}`;
      } else if (form.get('action') === 'get') {
        stats.polls++;
        const now = Date.now();
        const ids = (form.get('ids') ?? form.get('id') ?? '').split(',');
        const slots = ids.map((id) => answer(id, now));
        body = ids.length === 1 && slots[0] === 'CAPCHA_NOT_READY'
          ? '{"status":0,"request":"CAPCHA_NOT_READY"}'
          : JSON.stringify({ status: 1, request: slots.join('|') });
      } else if (form.get('action') === 'getbalance') {
        body = '{"status":1,"request":"1000"}';
      } else {
        body = '{"status":0,"request":"ERROR_WRONG_USER_KEY"}';
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        stats,
        close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
      });
    });
  });
}
