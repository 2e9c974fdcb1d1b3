/**
 * Test harness: the real provider simulator as a child process on a free port, and a
 * fresh redis-server per test file with the worker groups in place.
 */
import { join, resolve } from 'node:path';
import type Redis from 'ioredis';
import { freePort, spawnService, useRedis, waitFor, type ServiceProcess } from '@solvestream/testkit';
import { ensureWorkerGroups, Transitions, type Keyspace } from '@solvestream/contracts';

/**
 * A redis-server for this test file (flushed before each test, worker groups created):
 * `use` gets the client and Transitions over `ks` once it is up.
 */
export function useWorkerRedis(ks: Keyspace, use: (redis: Redis, transitions: Transitions) => void): void {
  useRedis({
    setup: (client) => use(client, new Transitions(client, ks)),
    reset: (client) => ensureWorkerGroups(client, ks),
  });
}

const SIM_ENTRY = join(resolve(__dirname, '..', '..', '..'), 'provider-sim', 'dist', 'src', 'main.js');
export const KEY = 'cafebabecafebabecafebabecafebabe';

export interface Sim {
  url: string;
  proc: ServiceProcess;
  faults(body: unknown): Promise<void>;
  stats(): Promise<{ submits: number; acceptedSubmits: number; polls: number; polledIds: number; multiGets: number; charges: number }>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export async function startSim(env: Record<string, string> = {}): Promise<Sim> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawnService({
    name: 'provider-sim',
    entry: SIM_ENTRY,
    env: { PORT: String(port), SIM_LATENCY_SCALE: '0.005', SIM_UNSOLVABLE_RATE: '0', LOG_LEVEL: 'warn', ...env },
  });
  await waitFor('simulator /health', async () => (await fetch(`${url}/health`)).ok, { timeoutMs: 15_000 });
  const admin = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(url + path, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${await res.text()}`);
    return res.json();
  };
  return {
    url,
    proc,
    faults: async (body) => { await admin('PUT', '/admin/faults', body); },
    stats: async () => ((await admin('GET', '/admin/stats')) as { total: Awaited<ReturnType<Sim['stats']>> }).total,
    reset: async () => { await admin('POST', '/admin/reset', {}); },
    stop: () => proc.stop(),
  };
}
