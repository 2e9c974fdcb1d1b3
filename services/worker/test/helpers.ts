/**
 * Test harness: the real provider simulator as a child process on a free port.
 */
import { join, resolve } from 'node:path';
import { freePort, spawnService, waitFor, type ServiceProcess } from '@solvestream/testkit';

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
