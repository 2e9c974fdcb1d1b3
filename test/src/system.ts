/**
 * Starts the whole system as real processes against a given Redis: the provider
 * simulator, one producer, N workers and (optionally) M supervisors, each from its
 * built `dist/src/main.js`.
 *
 * Chaos tests kill, freeze and restart these processes (see processes.ts); `addWorker`
 * and `addSupervisor` start replacements. Workers and supervisors get the same
 * `leaseMs` and `maxFailures`, because the two must agree (a supervisor with a shorter
 * lease than the workers' renewal period would reclaim live tasks).
 */
import { join, resolve } from 'node:path';
import { spawnService, waitFor, type ServiceProcess } from '@solvestream/testkit';

const ROOT = resolve(__dirname, '..', '..', '..');
export const serviceEntry = (name: string): string => join(ROOT, 'services', name, 'dist', 'src', 'main.js');

/** Any well-formed 32-char key; the simulator creates accounts on first use. */
export const SIM_KEY = 'feedfacefeedfacefeedfacefeedface';

export interface SystemOptions {
  redisUrl: string;
  workers?: number;
  /** Supervisors started with the system. Default 0 (nothing reclaims or promotes). */
  supervisors?: number;
  /** Extra env for the simulator (latency, faults, accounts). */
  simEnv?: Record<string, string>;
  /** Extra env for every worker. */
  workerEnv?: Record<string, string>;
  /** Extra env for every supervisor. */
  supervisorEnv?: Record<string, string>;
  /** Extra env for the producer. */
  producerEnv?: Record<string, string>;
  keyPrefix?: string;
  /** LEASE_MS of workers and supervisors alike. Default: the services' own (30 s). */
  leaseMs?: number;
  /** MAX_FAILURES of workers and supervisors alike. Default: the services' own (5). */
  maxFailures?: number;
  /** SUPERVISOR_INTERVAL_MS. Default: the supervisor's own (1 s). */
  supervisorIntervalMs?: number;
}

export interface System {
  apiUrl: string;
  simUrl: string;
  redisUrl: string;
  keyPrefix: string;
  sim: ServiceProcess;
  producer: ServiceProcess;
  /** Every worker started so far, including killed ones (see processes.ts `isAlive`). */
  workers: ServiceProcess[];
  /** Every supervisor started so far; `supervisorUrls[i]` is the ops HTTP of `supervisors[i]`. */
  supervisors: ServiceProcess[];
  supervisorUrls: string[];
  /** Starts one more worker (e.g. to replace a killed one), with extra env; resolves once it is ready. */
  addWorker(name?: string, env?: Record<string, string>): Promise<ServiceProcess>;
  /** Starts one more supervisor; resolves once its `/health/ready` answers 200. */
  addSupervisor(name?: string): Promise<ServiceProcess>;
  /** Every process this system started, dead or alive. */
  all(): ServiceProcess[];
  /** Resumes frozen processes, then stops everything (SIGTERM, SIGKILL after a grace). */
  stop(): Promise<void>;
}

const maybe = (name: string, v: number | undefined): Record<string, string> => (v === undefined ? {} : { [name]: String(v) });

export async function startSystem(o: SystemOptions): Promise<System> {
  const prefix = o.keyPrefix ?? 'ss';
  const shared = { ...maybe('LEASE_MS', o.leaseMs), ...maybe('MAX_FAILURES', o.maxFailures) };
  // Every listening service binds port 0 itself and its address is read from its
  // `listening` line: a port from freePort() is free only until someone else binds it (a
  // worker's ops server, on an ephemeral port, once took the producer's, and e2e's POSTs
  // met its 405).
  const sim = spawnService({
    name: 'provider-sim',
    entry: serviceEntry('provider-sim'),
    env: { PORT: '0', HOST: '127.0.0.1', SIM_LATENCY_SCALE: '0.01', SIM_UNSOLVABLE_RATE: '0', LOG_LEVEL: 'warn', ...o.simEnv },
  });
  let simUrl: string;
  try {
    simUrl = await listeningUrl(sim);
    await waitHttp(`${simUrl}/health`, sim);
  } catch (err) {
    await sim.stop();
    throw err;
  }

  const producer = spawnService({
    name: 'producer',
    entry: serviceEntry('producer'),
    env: { REDIS_URL: o.redisUrl, PORT: '0', HOST: '127.0.0.1', KEY_PREFIX: prefix, ...o.producerEnv },
  });
  let apiUrl = '';
  let n = 0;
  const workers: ServiceProcess[] = [];
  const addWorker = async (name = `worker-${++n}`, env: Record<string, string> = {}): Promise<ServiceProcess> => {
    const w = spawnService({
      name,
      entry: serviceEntry('worker'),
      env: {
        REDIS_URL: o.redisUrl, KEY_PREFIX: prefix, LOG_LEVEL: 'info', WORKER_ID: name,
        PROVIDER_NAME: 'sim', PROVIDER_URL: simUrl, PROVIDER_KEY: SIM_KEY,
        POLL_FIRST_DELAY_SCALE: '0.01', POLL_INTERVAL_MS: '100', BLOCK_MS: '500',
        ...shared,
        ...o.workerEnv,
        ...env,
      },
    });
    workers.push(w);
    await w.waitForLine('worker ready', 30_000);
    return w;
  };
  let s = 0;
  const supervisors: ServiceProcess[] = [];
  const supervisorUrls: string[] = [];
  const addSupervisor = async (name = `supervisor-${++s}`): Promise<ServiceProcess> => {
    const p = spawnService({
      name,
      entry: serviceEntry('supervisor'),
      env: {
        REDIS_URL: o.redisUrl, KEY_PREFIX: prefix, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info',
        ...shared,
        ...maybe('SUPERVISOR_INTERVAL_MS', o.supervisorIntervalMs),
        ...o.supervisorEnv,
      },
    });
    supervisors.push(p);
    const url = await listeningUrl(p);
    supervisorUrls.push(url);
    await waitHttp(`${url}/health/ready`, p);
    return p;
  };
  const all = (): ServiceProcess[] => [sim, producer, ...workers, ...supervisors];
  const stop = async (): Promise<void> => {
    // A SIGSTOPped process would only see SIGTERM after its grace; wake everyone first.
    for (const p of all()) p.signal('SIGCONT');
    await Promise.all([producer.stop(), ...workers.map((w) => w.stop()), ...supervisors.map((x) => x.stop())]);
    await sim.stop();
  };
  try {
    // Inside the try: a producer that never says where it listens is stopped with the rest.
    apiUrl = await listeningUrl(producer);
    await waitHttp(`${apiUrl}/health/ready`, producer, 20_000, 'producer');
    await Promise.all([
      ...Array.from({ length: o.workers ?? 2 }, () => addWorker()),
      ...Array.from({ length: o.supervisors ?? 0 }, () => addSupervisor()),
    ]);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    apiUrl,
    simUrl,
    redisUrl: o.redisUrl,
    keyPrefix: prefix,
    sim,
    producer,
    workers,
    supervisors,
    supervisorUrls,
    addWorker,
    addSupervisor,
    all,
    stop,
  };
}

/** The address a service logged in its `{"msg":"listening","url":…}` line (it bound PORT=0). */
export async function listeningUrl(proc: ServiceProcess, timeoutMs = 20_000): Promise<string> {
  const line = await proc.waitForLine(/"msg":"listening"/, timeoutMs);
  const url = (JSON.parse(line.slice(line.indexOf('{'))) as { url?: unknown }).url;
  if (typeof url !== 'string') throw new Error(`${proc.name}: no url in its listening line: ${line}`);
  return url;
}

/**
 * Waits until `url` answers 2xx — from `service` when given (the body's `service` field:
 * proof that the port is that process's and not another's) —; fails early with the
 * process's last lines if it exits.
 */
export async function waitHttp(url: string, proc: ServiceProcess, timeoutMs = 20_000, service?: string): Promise<void> {
  await waitFor(`${proc.name} at ${url}`, async () => {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      throw new Error(`${proc.name} exited: ${proc.lines.slice(-10).join('\n')}`);
    }
    const res = await fetch(url);
    if (!res.ok) return false;
    if (service === undefined) return true;
    const body = (await res.json()) as { service?: string };
    if (body.service !== service) throw new Error(`${url} is answered by ${body.service ?? 'another process'}, not ${service}`);
    return true;
  }, { timeoutMs, intervalMs: 100 });
}
