import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort, waitFor } from './util';

export interface StartRedisOptions {
  /** Turn on AOF (`appendfsync everysec`) so a restart keeps the data. Default false. */
  aof?: boolean;
  /** Port to listen on; a free one by default. */
  port?: number;
  /** Extra `redis-server` arguments, e.g. `['--maxmemory', '100mb']`. */
  args?: string[];
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** The running child, or undefined while stopped. */
  readonly process: ChildProcess | undefined;
  /** Sends a signal (default SIGKILL) and waits for the process to exit. Data dir is kept. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the server again on the same port and dir (AOF data, if any, is reloaded). */
  restart(): Promise<void>;
  /** Stops the server and removes its data dir. Safe to call twice. */
  stop(): Promise<void>;
}

/** Starts a private `redis-server` in a new temp dir and resolves once it answers PING. */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'ss-redis-'));
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', options.aof ? 'yes' : 'no',
    '--appendfsync', 'everysec',
    '--protected-mode', 'no',
    '--loglevel', 'warning',
    ...(options.args ?? []),
  ];
  let child: ChildProcess | undefined;
  let stopped = false;

  const launch = async (): Promise<void> => {
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const spawnError = new Promise<never>((_, reject) =>
      proc.once('error', (err) => reject(new Error(`cannot start redis-server: ${err.message}`))),
    );
    await Promise.race([
      spawnError,
      waitFor(
        `redis-server on port ${port}`,
        async () => {
          if (proc.exitCode !== null) throw new Error(`redis-server exited: ${stderr}`);
          const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
          c.on('error', () => undefined);
          try {
            await c.connect();
            // While AOF is loading Redis answers LOADING; PING only succeeds once it is done.
            return (await c.ping()) === 'PONG';
          } finally {
            c.disconnect();
          }
        },
        { timeoutMs: 15_000, intervalMs: 30 },
      ),
    ]);
  };

  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill(signal);
    await exited;
  };

  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get process() {
      return child;
    },
    kill,
    restart: async () => {
      await kill('SIGKILL');
      await launch();
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
