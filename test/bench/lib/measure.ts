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
  /** Bytes Redis read from and wrote to its clients (INFO stats total_net_input_bytes / total_net_output_bytes). */
  netIn: number;
  netOut: number;
}

export async function redisSnapshot(redis: Redis): Promise<RedisSnapshot> {
  const [cpu, cmd, stats] = await Promise.all([redis.info('cpu'), redis.info('commandstats'), redis.info('stats')]);
  const num = (text: string, key: string): number => Number(new RegExp(`^${key}:([\\d.]+)`, 'm').exec(text)?.[1] ?? 0);
  const calls = new Map<string, number>();
  const usec = new Map<string, number>();
  for (const m of cmd.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    calls.set(m[1] as string, Number(m[2]));
    usec.set(m[1] as string, Number(m[3]));
  }
  return {
    cpuS: num(cpu, 'used_cpu_user') + num(cpu, 'used_cpu_sys'), calls, usec,
    netIn: num(stats, 'total_net_input_bytes'), netOut: num(stats, 'total_net_output_bytes'),
  };
}

export interface RedisCost {
  /** Redis CPU per task, µs. */
  cpuUsPerTask: number;
  /** Every command executed per task, including the ones inside Lua scripts (Redis 7 counts those in commandstats and total_commands_processed alike). */
  commandsPerTask: number;
  /** Script calls (EVALSHA/EVAL) per task. */
  scriptsPerTask: number;
  /** Bytes sent to Redis per task by every client (commands and their arguments), and read back (replies). */
  bytesInPerTask: number;
  bytesOutPerTask: number;
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
    bytesInPerTask: per(b.netIn - a.netIn),
    bytesOutPerTask: per(b.netOut - a.netOut),
    top: diffs.sort((x, y) => y[1] - x[1]).slice(0, 8).map(([k, v]) => `${k} ${per(v).toFixed(2)} (${per(us(k)).toFixed(1)} µs)`).join(', '),
  };
}
