/**
 * What chaos tests do to one process: kill -9, freeze (SIGSTOP) and thaw (SIGCONT),
 * SIGTERM and wait, and how much CPU it burned (to tell "idle" from "spinning").
 */
import { readFileSync } from 'node:fs';
import type { ServiceProcess } from '@solvestream/testkit';

export const isAlive = (p: ServiceProcess): boolean => p.child.exitCode === null && p.child.signalCode === null;

/** `kill -9`; resolves once the process is gone. */
export async function kill9(p: ServiceProcess): Promise<void> {
  p.signal('SIGKILL');
  await p.exited();
}

/** SIGSTOP: the process stops dead (timers, sockets, lease renewals) until `thaw`. */
export const freeze = (p: ServiceProcess): void => p.signal('SIGSTOP');
export const thaw = (p: ServiceProcess): void => p.signal('SIGCONT');

export interface Termination {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** From the SIGTERM to the exit, ms. */
  ms: number;
}

/**
 * SIGTERM and wait for the exit (a graceful stop: the service drains). After
 * `killAfterMs` the process is SIGKILLed so a hung drain fails the test instead of
 * hanging it; the returned `signal` then says SIGKILL.
 */
export async function terminate(p: ServiceProcess, killAfterMs = 60_000): Promise<Termination> {
  const t0 = Date.now();
  p.signal('SIGTERM');
  const timer = setTimeout(() => p.signal('SIGKILL'), killAfterMs);
  const { code, signal } = await p.exited();
  clearTimeout(timer);
  return { code, signal, ms: Date.now() - t0 };
}

/** CPU time (user + system) the process has used so far, ms; from /proc (Linux). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) may hold spaces; everything after its closing paren is space separated.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  const ticksPerSecond = 100; // USER_HZ, 100 on every mainstream Linux
  return ((utime + stime) * 1000) / ticksPerSecond;
}

/** Share of one core each process used over `windowMs` (0.0–1.0+), by process name. */
export async function cpuShare(procs: readonly ServiceProcess[], windowMs: number): Promise<Record<string, number>> {
  const live = procs.filter(isAlive);
  const before = live.map((p) => cpuMs(p.pid));
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, windowMs));
  const elapsed = Date.now() - t0;
  const out: Record<string, number> = {};
  live.forEach((p, i) => {
    out[p.name] = (cpuMs(p.pid) - (before[i] as number)) / elapsed;
  });
  return out;
}
