/**
 * Where a run's time went, read from its events stream after the round (before the next
 * flush): the slow run's timeline and the paced run's latency by step. Only the
 * orchestrator uses this (not the role processes, which stay light).
 */
import type { Redis } from 'ioredis';
import type { Keyspace, TaskEvent } from '@solvestream/contracts';
import { eventsByTask, readEvents } from '../../src';
import { median, pct } from './measure';

/** One lifecycle event's spread over a run: ms after the first `submitted` event. */
export interface EventSpread { count: number; firstMs: number; p50Ms: number; lastMs: number }

/** An event's time on Redis's clock: its entry id, ms. */
const idMs = (e: TaskEvent): number => Number(e.id.slice(0, e.id.indexOf('-')));

/**
 * Where a run's time went: for each lifecycle event in the events stream, when it
 * first, typically and last happened, relative to the first `submitted` (Redis's clock:
 * the entry ids). Read after the round, before the next flush.
 */
export async function eventTimeline(redis: Redis, ks: Keyspace): Promise<Record<string, EventSpread>> {
  const at = new Map<string, number[]>();
  for (const e of await readEvents(redis, ks)) {
    const xs = at.get(e.event) ?? [];
    xs.push(idMs(e));
    at.set(e.event, xs);
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

const STEPS: [label: string, from: string, to: string][] = [
  ['submitted → claimed', 'submitted', 'claimed'],
  ['claimed → provider-submitted', 'claimed', 'provider-submitted'],
  ['provider-submitted → solved', 'provider-submitted', 'solved'],
  ['submitted → solved', 'submitted', 'solved'],
];

/**
 * Where a paced run's latency went, from the events stream: for the last `lastTasks`
 * tasks submitted, the time from `submitted` to `claimed` (queue + worker read), to
 * `provider-submitted` (the provider's in.php + the checkpoint), and to `solved`
 * (polls + completion). What the table's latency adds beyond `solved` is the result's
 * way back to the client (results stream → results listener).
 */
export async function stageLatencies(redis: Redis, ks: Keyspace, lastTasks: number): Promise<StageLatencies> {
  // First time of each event per task (a redelivery's second `claimed` does not count).
  const tasks = [...eventsByTask(await readEvents(redis, ks)).values()].map((list) => {
    const t: Record<string, number> = {};
    for (const e of list) t[e.event] ??= idMs(e);
    return t;
  }).filter((t) => t.submitted !== undefined && t.solved !== undefined)
    .sort((a, b) => (a.submitted ?? 0) - (b.submitted ?? 0)).slice(-lastTasks);
  const out: StageLatencies = {};
  for (const [label, a, b] of STEPS) {
    const xs = tasks.filter((t) => t[a] !== undefined && t[b] !== undefined).map((t) => (t[b] as number) - (t[a] as number));
    out[label] = { p50: pct(xs, 50), p99: pct(xs, 99), n: xs.length };
  }
  return out;
}
