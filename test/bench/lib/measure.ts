/**
 * Measuring helpers shared by the benchmark roles: order statistics, a process's CPU
 * and memory from /proc (Linux), and Redis-side cost from INFO deltas.
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

export const median = (xs: readonly number[]): number => pct(xs, 50);

/** Nearest-rank percentile; NaN for an empty list. */
export function pct(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}

const TICKS = 100; // USER_HZ on every mainstream Linux

/** utime + stime of a live process, seconds. */
export function procCpuS(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICKS;
}

/** `VmRSS` (now) or `VmHWM` (peak so far) of a live process, MB. */
export function procMemMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

export interface RedisSnapshot {
  cpuS: number;
  /** Calls per command, every command counted (also those run inside scripts). */
  calls: Map<string, number>;
  /** Microseconds spent per command (a script's includes its inner commands). */
  usec: Map<string, number>;
}

export async function redisSnapshot(redis: Redis): Promise<RedisSnapshot> {
  const [cpu, cmd] = await Promise.all([redis.info('cpu'), redis.info('commandstats')]);
  const num = (text: string, key: string): number => Number(new RegExp(`^${key}:([\\d.]+)`, 'm').exec(text)?.[1] ?? 0);
  const calls = new Map<string, number>();
  const usec = new Map<string, number>();
  for (const m of cmd.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    calls.set(m[1] as string, Number(m[2]));
    usec.set(m[1] as string, Number(m[3]));
  }
  return { cpuS: num(cpu, 'used_cpu_user') + num(cpu, 'used_cpu_sys'), calls, usec };
}

export interface RedisCost {
  /** Redis CPU per task, µs. */
  cpuUsPerTask: number;
  /** Every command executed per task, including the ones inside Lua scripts (Redis 7 counts those in commandstats and total_commands_processed alike). */
  commandsPerTask: number;
  /** Script calls (EVALSHA/EVAL) per task. */
  scriptsPerTask: number;
  /** The most frequent commands per task with their µs per task (a script's µs include its inner commands'), e.g. `xadd 3.00 (4.1 µs)`. */
  top: string;
}

export function redisCost(a: RedisSnapshot, b: RedisSnapshot, tasks: number): RedisCost {
  const per = (x: number): number => x / Math.max(1, tasks);
  const diffs = [...b.calls].map(([k, v]) => [k, v - (a.calls.get(k) ?? 0)] as const).filter(([k, v]) => v > 0 && k !== 'info');
  const total = diffs.reduce((s, [, v]) => s + v, 0);
  const us = (k: string): number => (b.usec.get(k) ?? 0) - (a.usec.get(k) ?? 0);
  const scripts = diffs.filter(([k]) => k === 'evalsha' || k === 'eval').reduce((s, [, v]) => s + v, 0);
  return {
    cpuUsPerTask: per((b.cpuS - a.cpuS) * 1e6),
    commandsPerTask: per(total),
    scriptsPerTask: per(scripts),
    top: diffs.sort((x, y) => y[1] - x[1]).slice(0, 8).map(([k, v]) => `${k} ${per(v).toFixed(2)} (${per(us(k)).toFixed(1)} µs)`).join(', '),
  };
}

/** One lifecycle event's spread over a run: ms after the first `submitted` event. */
export interface EventSpread { count: number; firstMs: number; p50Ms: number; lastMs: number }

/**
 * Where a run's time went: for each lifecycle event in the events stream, when it
 * first, typically and last happened, relative to the first `submitted` (both on
 * Redis's clock: the entry ids). Read after the round, before the next flush.
 */
export async function eventTimeline(redis: Redis, eventsKey: string): Promise<Record<string, EventSpread>> {
  const at = new Map<string, number[]>();
  let from = '-';
  for (;;) {
    const batch = (await redis.xrange(eventsKey, from, '+', 'COUNT', 5000)) as [string, string[]][];
    for (const [id, f] of batch) {
      const i = f.indexOf('event');
      const name = i >= 0 && i % 2 === 0 ? f[i + 1] ?? '?' : '?';
      let xs = at.get(name);
      if (!xs) at.set(name, (xs = []));
      xs.push(Number(id.slice(0, id.indexOf('-'))));
    }
    if (batch.length < 5000) break;
    from = `(${batch[batch.length - 1]![0]}`;
  }
  const t0 = Math.min(...(at.get('submitted') ?? [0]));
  const out: Record<string, EventSpread> = {};
  for (const [name, xs] of at) {
    out[name] = { count: xs.length, firstMs: Math.min(...xs) - t0, p50Ms: median(xs) - t0, lastMs: Math.max(...xs) - t0 };
  }
  return out;
}

/** p50 / p99 of each step of a task's life, ms (Redis clock, ms resolution). */
export type StageLatencies = Record<string, { p50: number; p99: number; n: number }>;

/**
 * Where a paced run's latency went, from the events stream: for the last `lastTasks`
 * tasks submitted, the time from `submitted` to `claimed` (queue + worker read), to
 * `provider-submitted` (the provider's in.php + the checkpoint), and to `solved`
 * (polls + completion). What the table's latency adds beyond `solved` is the result's
 * way back to the client (results stream → results listener).
 */
export async function stageLatencies(redis: Redis, eventsKey: string, lastTasks: number): Promise<StageLatencies> {
  const byTask = new Map<string, Record<string, number>>();
  let from = '-';
  for (;;) {
    const batch = (await redis.xrange(eventsKey, from, '+', 'COUNT', 5000)) as [string, string[]][];
    for (const [id, f] of batch) {
      const get = (name: string): string | undefined => { const i = f.indexOf(name); return i >= 0 && i % 2 === 0 ? f[i + 1] : undefined; };
      const task = get('task');
      const event = get('event');
      if (!task || !event) continue;
      let t = byTask.get(task);
      if (!t) byTask.set(task, (t = {}));
      t[event] ??= Number(id.slice(0, id.indexOf('-')));
    }
    if (batch.length < 5000) break;
    from = `(${batch[batch.length - 1]![0]}`;
  }
  const tasks = [...byTask.values()].filter((t) => t.submitted !== undefined && t.solved !== undefined)
    .sort((a, b) => (a.submitted ?? 0) - (b.submitted ?? 0)).slice(-lastTasks);
  const steps: [string, string, string][] = [
    ['submitted → claimed', 'submitted', 'claimed'],
    ['claimed → provider-submitted', 'claimed', 'provider-submitted'],
    ['provider-submitted → solved', 'provider-submitted', 'solved'],
    ['submitted → solved', 'submitted', 'solved'],
  ];
  const out: StageLatencies = {};
  for (const [label, a, b] of steps) {
    const xs = tasks.filter((t) => t[a] !== undefined && t[b] !== undefined).map((t) => (t[b] as number) - (t[a] as number));
    out[label] = { p50: pct(xs, 50), p99: pct(xs, 99), n: xs.length };
  }
  return out;
}
