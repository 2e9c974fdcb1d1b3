/**
 * dr-recovery as a real process for whole-system tests, and its `dr` CLI.
 *
 * `startDr` runs `services/dr-recovery/dist/src/main.js` against a Redis with its own
 * archive directory (kept across `restart`, so a kill -9 and a restart continue the same
 * archive); `drCli` runs `dr <args>` and parses its JSON answer.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, spawnService, type ServiceProcess } from '@solvestream/testkit';
import { serviceEntry, waitHttp } from './system';

export interface DrOptions {
  redisUrl: string;
  keyPrefix?: string;
  mode?: 'auto' | 'manual';
  /** Extra env (ARCHIVE_BLOCK_MS, SEGMENT_MAX_BYTES, …). */
  env?: Record<string, string>;
}

export interface DrProcess {
  readonly proc: ServiceProcess;
  readonly url: string;
  readonly archiveDir: string;
  /** Every process started so far (a restart adds one). */
  readonly all: ServiceProcess[];
  /** Starts a new process on the same archive (after a kill); resolves once it is ready. */
  restart(): Promise<ServiceProcess>;
  /** Lines of every process so far that contain `text`. */
  linesWith(text: string): string[];
  stop(): Promise<void>;
}

export async function startDr(o: DrOptions): Promise<DrProcess> {
  const archiveDir = mkdtempSync(join(tmpdir(), 'ss-dr-archive-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const all: ServiceProcess[] = [];
  const launch = async (): Promise<ServiceProcess> => {
    const p = spawnService({
      name: `dr-recovery-${all.length + 1}`,
      entry: serviceEntry('dr-recovery'),
      env: {
        REDIS_URL: o.redisUrl, KEY_PREFIX: o.keyPrefix ?? 'ss', ARCHIVE_DIR: archiveDir, PORT: String(port), HOST: '127.0.0.1',
        DR_MODE: o.mode ?? 'auto', LOG_LEVEL: 'info', ...o.env,
      },
    });
    all.push(p);
    await waitHttp(`${url}/health/ready`, p, 30_000);
    return p;
  };
  await launch();
  return {
    get proc() { return all[all.length - 1] as ServiceProcess; },
    url,
    archiveDir,
    all,
    restart: launch,
    linesWith: (text) => all.flatMap((p) => p.lines.filter((l) => l.includes(text))),
    stop: async () => {
      await Promise.all(all.map((p) => p.stop()));
      rmSync(archiveDir, { recursive: true, force: true });
    },
  };
}

const CLI = resolve(__dirname, '..', '..', '..', 'services', 'dr-recovery', 'dist', 'src', 'cli.js');

/** Runs `dr <args>`; `json` is its stdout parsed, when it is JSON. */
export function drCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; json?: unknown }> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => {
      let json: unknown;
      try { json = JSON.parse(out); } catch { json = undefined; }
      resolveRun({ code, out, json });
    });
  });
}
