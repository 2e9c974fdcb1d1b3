import { spawn, type ChildProcess } from 'node:child_process';

export interface SpawnServiceOptions {
  /** Absolute path of the compiled entry point (e.g. `.../dist/src/main.js`). */
  entry: string;
  env?: Record<string, string | undefined>;
  /** A short label used in error messages and (with SS_TEST_ECHO=1) echoed log lines. */
  name?: string;
}

export interface ServiceProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Every line the process wrote to stdout/stderr so far. */
  readonly lines: string[];
  /** Resolves with the first output line that contains `text` (or matches it). */
  waitForLine(text: string | RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves once the process has exited (immediately if it already has). */
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts `node <entry>` as a real child process with the given environment.
 * SS_NODE_ARGS (space-separated) adds node flags to every child, for profiling a test or
 * benchmark run: `SS_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'` (node refuses
 * --cpu-prof in NODE_OPTIONS).
 */
export function spawnService(options: SpawnServiceOptions): ServiceProcess {
  const name = options.name ?? options.entry;
  const nodeArgs = (process.env.SS_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, options.entry], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters = new Set<{ match: (l: string) => boolean; resolve: (l: string) => void }>();
  const echo = process.env.SS_TEST_ECHO === '1';
  const onData = (buf: Buffer, carry: { rest: string }): void => {
    const text = carry.rest + buf.toString();
    const parts = text.split('\n');
    carry.rest = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      if (echo) process.stderr.write(`[${name}] ${line}\n`);
      for (const w of waiters) if (w.match(line)) { waiters.delete(w); w.resolve(line); }
    }
  };
  const outCarry = { rest: '' };
  const errCarry = { rest: '' };
  child.stdout?.on('data', (b: Buffer) => onData(b, outCarry));
  child.stderr?.on('data', (b: Buffer) => onData(b, errCarry));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );

  return {
    name,
    child,
    pid: child.pid ?? -1,
    lines,
    waitForLine(text, timeoutMs = 15_000) {
      const match = (l: string): boolean => (typeof text === 'string' ? l.includes(text) : text.test(l));
      const found = lines.find(match);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = { match, resolve };
        waiters.add(w);
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`${name}: no output line matching ${String(text)} within ${timeoutMs} ms; last lines:\n${lines.slice(-20).join('\n')}`));
        }, timeoutMs);
        exit.then(() => {
          if (!waiters.has(w)) return;
          waiters.delete(w);
          clearTimeout(timer);
          reject(new Error(`${name} exited before printing ${String(text)}; last lines:\n${lines.slice(-20).join('\n')}`));
        });
        const orig = w.resolve;
        w.resolve = (l) => { clearTimeout(timer); orig(l); };
      });
    },
    exited: () => exit,
    signal: (sig) => { if (child.exitCode === null && child.signalCode === null) child.kill(sig); },
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
}
