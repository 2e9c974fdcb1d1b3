/**
 * `npm start`: the whole system on one machine, for local runs and demos.
 *
 *   redis-server   a child with AOF under ./.data/redis, unless REDIS_URL is set
 *   provider-sim   unless CAPTCHAAI_API_KEY (or PROVIDER_URL + PROVIDER_KEY) is set
 *   producer       the HTTP API on PORT (default 8080)
 *   supervisor     reclaim, retries, dead letter; ops/admin HTTP on SUPERVISOR_PORT (default 8081)
 *   dr-recovery    archives every stream to ./.data/archive; restores a wiped Redis (DR_MODE=auto)
 *   worker × N     WORKERS (default 2)
 *
 * Children run in their own process group so that Ctrl-C reaches only this launcher,
 * which stops them in order (producer and workers drain first, then the simulator,
 * Redis last, so nothing is cut off mid-transition). Services are started with
 * SS_EXIT_WITH_PARENT=1 and stop by themselves if this launcher dies without cleanup.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { ConfigError, env, parseEnv } from '@solvestream/core';

const ROOT = resolve(__dirname, '..', '..', '..', '..');
const entry = (service: string): string => join(ROOT, 'services', service, 'dist', 'src', 'main.js');

const LOCAL_ENV = {
  REDIS_URL: env.optional(env.url({ doc: 'Use this Redis instead of starting one', protocols: ['redis:', 'rediss:'] })),
  PORT: env.int({ doc: 'Port of the HTTP API', default: 8080, min: 1, max: 65535 }),
  HOST: env.string({ doc: 'Interface the HTTP API listens on', default: '127.0.0.1' }),
  SUPERVISOR_PORT: env.int({ doc: 'Port of the supervisor ops/admin HTTP (dead-letter API)', default: 8081, min: 0, max: 65535 }),
  WORKERS: env.int({ doc: 'Number of worker processes', default: 2, min: 1, max: 64 }),
  SS_DATA_DIR: env.string({ doc: 'Where the embedded Redis keeps its AOF', default: join(ROOT, '.data') }),
  CAPTCHAAI_API_KEY: env.optional(env.string({ doc: 'Solve on CaptchaAI instead of the simulator', secret: true })),
  PROVIDER_URL: env.optional(env.url({ doc: 'Another 2captcha-compatible provider' })),
  PROVIDER_KEY: env.optional(env.string({ doc: 'Key for PROVIDER_URL', secret: true })),
  SIM_LATENCY_SCALE: env.number({ doc: 'Simulator solve-time multiplier (0.1 = 10x faster than real providers)', default: 0.1, min: 0, max: 10 }),
};

/** A well-formed 32-character key the simulator accepts (auto accounts). Not a secret. */
const SIM_KEY = 'd0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0';

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => res(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

interface Child { name: string; proc: ChildProcess }
const children: Child[] = [];

function start(name: string, cmd: string, args: string[], extraEnv: Record<string, string>): Child {
  const proc = spawn(cmd, args, { env: { ...process.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const prefix = `[${name}] `;
  for (const stream of [proc.stdout, proc.stderr]) {
    let rest = '';
    stream?.on('data', (b: Buffer) => {
      const lines = (rest + b.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) process.stdout.write(prefix + l + '\n');
    });
  }
  proc.on('exit', (code, signal) => {
    if (!stopping) {
      process.stdout.write(`${prefix}exited unexpectedly (code ${code}, signal ${signal}); stopping everything\n`);
      void stopAll(1, `${name} exited`);
    }
  });
  const child = { name, proc };
  children.push(child);
  return child;
}

async function waitHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitRedis(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout?.trim() !== 'PONG') {
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function stopOne(c: Child, graceMs: number): Promise<void> {
  const p = c.proc;
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    const t = setTimeout(() => { try { process.kill(-p.pid!, 'SIGKILL'); } catch { /* gone */ } }, graceMs);
    p.once('exit', () => { clearTimeout(t); res(); });
    try { process.kill(-p.pid!, 'SIGTERM'); } catch { res(); }
  });
}

let stopping = false;
async function stopAll(code: number, reason: string): Promise<never> {
  if (stopping) process.exit(code);
  stopping = true;
  process.stdout.write(`stopping (${reason}): producer and workers drain first, Redis last\n`);
  const tier = (names: RegExp): Child[] => children.filter((c) => names.test(c.name));
  await Promise.all(tier(/^(producer|worker|supervisor|dr-recovery)/).map((c) => stopOne(c, 25_000)));
  await Promise.all(tier(/^provider-sim$/).map((c) => stopOne(c, 5_000)));
  await Promise.all(tier(/^redis$/).map((c) => stopOne(c, 10_000)));
  process.exit(code);
}

async function main(): Promise<void> {
  let e;
  try {
    e = parseEnv(LOCAL_ENV);
  } catch (err) {
    if (err instanceof ConfigError) { process.stderr.write(`${err.message}\n`); process.exit(2); }
    throw err;
  }
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void stopAll(0, sig));
  process.on('exit', () => { for (const c of children) try { process.kill(-c.proc.pid!, 'SIGKILL'); } catch { /* gone */ } });

  let redisUrl = e.REDIS_URL;
  if (!redisUrl) {
    if (spawnSync('redis-server', ['--version']).error) {
      process.stderr.write([
        'redis-server was not found on your PATH, and REDIS_URL is not set.',
        'Fix it one of two ways:',
        '  - install Redis 7: sudo apt-get install redis-server   (Debian/Ubuntu)',
        '                     brew install redis                  (macOS)',
        '  - or point at a Redis you already run: REDIS_URL=redis://127.0.0.1:6379 npm start',
        '',
      ].join('\n'));
      process.exit(1);
    }
    const dir = join(e.SS_DATA_DIR, 'redis');
    mkdirSync(dir, { recursive: true });
    const port = await freePort();
    start('redis', 'redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes',
      '--appendfsync', 'everysec', '--save', '', '--maxmemory-policy', 'noeviction', '--loglevel', 'warning',
    ], {});
    await waitRedis(port, 15_000);
    redisUrl = `redis://127.0.0.1:${port}`;
    process.stdout.write(`redis-server (AOF in ${dir}) on ${redisUrl}\n`);
  }

  const common = { REDIS_URL: redisUrl, SS_EXIT_WITH_PARENT: '1' };
  let providerEnv: Record<string, string>;
  if (e.CAPTCHAAI_API_KEY) {
    providerEnv = { CAPTCHAAI_API_KEY: e.CAPTCHAAI_API_KEY };
    process.stdout.write('provider: CaptchaAI (CAPTCHAAI_API_KEY is set)\n');
  } else if (e.PROVIDER_URL && e.PROVIDER_KEY) {
    providerEnv = { PROVIDER_URL: e.PROVIDER_URL, PROVIDER_KEY: e.PROVIDER_KEY };
    process.stdout.write(`provider: ${e.PROVIDER_URL}\n`);
  } else {
    const simPort = await freePort();
    start('provider-sim', process.execPath, [entry('provider-sim')], {
      ...common, PORT: String(simPort), HOST: '127.0.0.1', SIM_LATENCY_SCALE: String(e.SIM_LATENCY_SCALE),
    });
    await waitHttp(`http://127.0.0.1:${simPort}/health`, 15_000);
    const scale = Math.max(e.SIM_LATENCY_SCALE, 0.01);
    providerEnv = {
      PROVIDER_NAME: 'sim', PROVIDER_URL: `http://127.0.0.1:${simPort}`, PROVIDER_KEY: SIM_KEY,
      POLL_FIRST_DELAY_SCALE: String(scale), POLL_INTERVAL_MS: String(Math.max(100, Math.round(5000 * scale))),
    };
    process.stdout.write(`provider: the simulator on http://127.0.0.1:${simPort} (no CAPTCHAAI_API_KEY set)\n`);
  }

  start('producer', process.execPath, [entry('producer')], { ...common, PORT: String(e.PORT), HOST: e.HOST });
  start('supervisor', process.execPath, [entry('supervisor')], { ...common, PORT: String(e.SUPERVISOR_PORT), HOST: '127.0.0.1' });
  start('dr-recovery', process.execPath, [entry('dr-recovery')], {
    ...common, PORT: String(await freePort()), HOST: '127.0.0.1', ARCHIVE_DIR: join(e.SS_DATA_DIR, 'archive'), DR_MODE: 'auto',
  });
  for (let i = 1; i <= e.WORKERS; i++) {
    start(`worker-${i}`, process.execPath, [entry('worker')], { ...common, ...providerEnv });
  }
  const api = `http://${e.HOST === '0.0.0.0' ? '127.0.0.1' : e.HOST}:${e.PORT}`;
  await waitHttp(`${api}/health/ready`, 20_000);
  process.stdout.write([
    '',
    `solvestream is up. API: ${api}   (dead-letter admin: http://127.0.0.1:${e.SUPERVISOR_PORT}/v1/dead-letter)`,
    `  curl -s -X POST ${api}/v1/tasks -H 'content-type: application/json' \\`,
    `    -d '{"type":"recaptcha_v2","params":{"websiteURL":"https://example.com/login","websiteKey":"6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-"}}'`,
    `  curl -s '${api}/v1/tasks/<id>?wait=30'`,
    'Ctrl-C stops everything.',
    '',
  ].join('\n'));
}

main().catch((err: unknown) => {
  process.stderr.write(`start: ${err instanceof Error ? err.message : String(err)}\n`);
  void stopAll(1, 'start-up failed');
});
