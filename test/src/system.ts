/**
 * Starts the whole system as real processes against a given Redis: the provider
 * simulator, one producer and N workers, each from its built `dist/src/main.js`.
 */
import { join, resolve } from 'node:path';
import { freePort, spawnService, waitFor, type ServiceProcess } from '@solvestream/testkit';

const ROOT = resolve(__dirname, '..', '..', '..');
export const serviceEntry = (name: string): string => join(ROOT, 'services', name, 'dist', 'src', 'main.js');

/** Any well-formed 32-char key; the simulator creates accounts on first use. */
export const SIM_KEY = 'feedfacefeedfacefeedfacefeedface';

export interface SystemOptions {
  redisUrl: string;
  workers?: number;
  /** Extra env for the simulator (latency, faults, accounts). */
  simEnv?: Record<string, string>;
  /** Extra env for every worker. */
  workerEnv?: Record<string, string>;
  keyPrefix?: string;
}

export interface System {
  apiUrl: string;
  simUrl: string;
  sim: ServiceProcess;
  producer: ServiceProcess;
  workers: ServiceProcess[];
  /** Starts one more worker (e.g. to replace a killed one). */
  addWorker(name?: string): Promise<ServiceProcess>;
  stop(): Promise<void>;
}

export async function startSystem(o: SystemOptions): Promise<System> {
  const prefix = o.keyPrefix ?? 'ss';
  const simPort = await freePort();
  const simUrl = `http://127.0.0.1:${simPort}`;
  const sim = spawnService({
    name: 'provider-sim',
    entry: serviceEntry('provider-sim'),
    env: { PORT: String(simPort), HOST: '127.0.0.1', SIM_LATENCY_SCALE: '0.01', SIM_UNSOLVABLE_RATE: '0', ...o.simEnv },
  });
  await waitHttp(`${simUrl}/health`, sim);

  const apiPort = await freePort();
  const producer = spawnService({
    name: 'producer',
    entry: serviceEntry('producer'),
    env: { REDIS_URL: o.redisUrl, PORT: String(apiPort), HOST: '127.0.0.1', KEY_PREFIX: prefix },
  });
  let n = 0;
  const workers: ServiceProcess[] = [];
  const addWorker = async (name = `worker-${++n}`): Promise<ServiceProcess> => {
    const w = spawnService({
      name,
      entry: serviceEntry('worker'),
      env: {
        REDIS_URL: o.redisUrl, KEY_PREFIX: prefix, LOG_LEVEL: 'info', WORKER_ID: name,
        PROVIDER_NAME: 'sim', PROVIDER_URL: simUrl, PROVIDER_KEY: SIM_KEY,
        POLL_FIRST_DELAY_SCALE: '0.01', POLL_INTERVAL_MS: '100', BLOCK_MS: '500',
        ...o.workerEnv,
      },
    });
    await w.waitForLine('worker ready');
    workers.push(w);
    return w;
  };
  await Promise.all(Array.from({ length: o.workers ?? 2 }, () => addWorker()));
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  await waitHttp(`${apiUrl}/health/ready`, producer);
  return {
    apiUrl,
    simUrl,
    sim,
    producer,
    workers,
    addWorker,
    async stop() {
      await Promise.all([producer.stop(), ...workers.map((w) => w.stop())]);
      await sim.stop();
    },
  };
}

/** Waits until `url` answers 2xx; fails early with the process's last lines if it exits. */
async function waitHttp(url: string, proc: ServiceProcess): Promise<void> {
  await waitFor(`${proc.name} at ${url}`, async () => {
    if (proc.child.exitCode !== null) throw new Error(`${proc.name} exited: ${proc.lines.slice(-10).join('\n')}`);
    return (await fetch(url)).ok;
  }, { timeoutMs: 20_000, intervalMs: 100 });
}
