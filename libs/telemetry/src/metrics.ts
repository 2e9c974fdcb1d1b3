/**
 * Prometheus metrics (prom-client), one registry per process, served at `/metrics`.
 *
 * Naming: `solvestream_` prefix, base units, counters end in `_total`, labels only of low
 * cardinality (type, provider, outcome, lane, code — never a task id).
 *
 * Stream gauges are read from Redis on each scrape (XINFO GROUPS + XLEN per lane), named
 * after KEDA's Redis Streams scaler settings: `solvestream_stream_length` ↔ streamLength,
 * `solvestream_stream_pending_messages` ↔ pendingEntriesCount, `solvestream_stream_group_lag`
 * ↔ lagCount (per lane, group `workers`).
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { Redis } from 'ioredis';
import { WORKERS_GROUP, type Keyspace } from '@solvestream/contracts';
import { telemetryHandle } from './register';
import type { SpanCounts } from './span-export';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Solve durations reach minutes: buckets up to 300 s. */
export const SOLVE_BUCKETS = [0.5, 1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 300];
/** Provider HTTP requests: milliseconds to tens of seconds. */
export const REQUEST_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createRegistry(service: string, instance: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service, instance });
  collectDefaultMetrics({ register: registry });
  registerSpanMetrics(registry, () => telemetryHandle().spanCounts());
  return registry;
}

/**
 * `solvestream_trace_spans_total{outcome}`: what became of this process's sampled spans
 * (exported | dropped: the export queue was full | failed: the export failed). Dropped or
 * failed spans are holes in traces; see the runbook ("Traces have holes"). Stays at 0
 * with tracing off.
 */
export function registerSpanMetrics(registry: Registry, read: () => SpanCounts | undefined): void {
  const seen: SpanCounts = { exported: 0, dropped: 0, failed: 0 };
  new Counter({
    name: 'solvestream_trace_spans_total', help: 'Sampled spans by what became of them: exported, dropped (export queue full), failed (export failed)',
    labelNames: ['outcome'], registers: [registry],
    collect() {
      const now = read() ?? seen;
      for (const outcome of ['exported', 'dropped', 'failed'] as const) {
        this.inc({ outcome }, Math.max(0, now[outcome] - seen[outcome]));
        seen[outcome] = now[outcome];
      }
    },
  });
}

interface GroupInfo { pending: number; lag: number | null }

async function groupInfo(redis: Redis, lane: string): Promise<GroupInfo | undefined> {
  const rows = (await redis.xinfo('GROUPS', lane)) as (string | number | null)[][];
  for (const row of rows) {
    const g: Record<string, string | number | null> = {};
    for (let i = 0; i + 1 < row.length; i += 2) g[String(row[i])] = row[i + 1] ?? null;
    if (g.name === WORKERS_GROUP) return { pending: Number(g.pending ?? 0), lag: g.lag === null || g.lag === undefined ? null : Number(g.lag) };
  }
  return undefined;
}

/** Registers the per-lane stream gauges; values are read from Redis at scrape time. */
export function registerStreamMetrics(registry: Registry, redis: Redis, keys: Keyspace): void {
  const lanes = keys.lanes;
  const laneName = (k: string): string => k.slice(k.lastIndexOf(':') + 1);
  const read = async (pick: (len: number, info: GroupInfo | undefined) => number | null, set: (lane: string, v: number) => void): Promise<void> => {
    for (const lane of lanes) {
      try {
        const [len, info] = await Promise.all([redis.xlen(lane), groupInfo(redis, lane).catch(() => undefined)]);
        const v = pick(len, info);
        if (v !== null) set(laneName(lane), v);
      } catch {
        /* Redis down: the scrape shows the last values; /health/ready says why */
      }
    }
  };
  new Gauge({
    name: 'solvestream_stream_length', help: 'Entries in a task lane (XLEN)', labelNames: ['lane'], registers: [registry],
    async collect() { await read((len) => len, (lane, v) => this.set({ lane }, v)); },
  });
  new Gauge({
    name: 'solvestream_stream_pending_messages', help: 'Entries delivered to workers and not yet acked (XPENDING)', labelNames: ['lane'], registers: [registry],
    async collect() { await read((_l, i) => i?.pending ?? null, (lane, v) => this.set({ lane }, v)); },
  });
  new Gauge({
    name: 'solvestream_stream_group_lag', help: 'Entries not yet delivered to the workers group (XINFO GROUPS lag)', labelNames: ['lane'], registers: [registry],
    async collect() { await read((_l, i) => i?.lag ?? null, (lane, v) => this.set({ lane }, v)); },
  });
  new Gauge({
    name: 'solvestream_delayed_retries', help: 'Retries waiting in the delayed set', registers: [registry],
    async collect() { try { this.set(await redis.zcard(keys.delayed)); } catch { /* keep last */ } },
  });
  new Gauge({
    name: 'solvestream_dead_letter_entries', help: 'Entries in the dead-letter stream', registers: [registry],
    async collect() { try { this.set(await redis.xlen(keys.deadLetter)); } catch { /* keep last */ } },
  });
}
