/**
 * The supervisor's Prometheus metrics: what its loop did (from `Supervisor.stats`,
 * read at scrape time) and the stream gauges of every lane.
 */
import type { Redis } from 'ioredis';
import type { Keyspace } from '@solvestream/contracts';
import { Counter, createRegistry, registerStreamMetrics, type Registry } from '@solvestream/telemetry';
import type { Supervisor, SupervisorStats } from './supervisor';

const COUNTERS: [keyof SupervisorStats, string, string][] = [
  ['reclaimed', 'solvestream_supervisor_reclaimed_total', 'Stalled deliveries requeued with their checkpoint'],
  ['held', 'solvestream_supervisor_reclaim_held_total', 'Reclaimed tasks held RECLAIM_HOLD_MS before their next delivery (claimed, no checkpoint)'],
  ['deadLettered', 'solvestream_supervisor_dead_lettered_total', 'Tasks dead-lettered after too many failed deliveries'],
  ['poison', 'solvestream_supervisor_poison_total', 'Undecodable stalled entries moved to dead-letter'],
  ['promoted', 'solvestream_supervisor_promoted_total', 'Delayed retries promoted back to their lane'],
  ['consumersRemoved', 'solvestream_supervisor_consumers_removed_total', 'Consumers of dead workers removed'],
  ['errors', 'solvestream_supervisor_errors_total', 'Supervisor steps that failed (retried next tick)'],
];

export function createSupervisorMetrics(o: { instance: string; redis: Redis; keys: Keyspace; supervisor: () => Supervisor | undefined }): Registry {
  const registry = createRegistry('supervisor', o.instance);
  registerStreamMetrics(registry, o.redis, o.keys);
  for (const [stat, name, help] of COUNTERS) {
    new Counter({
      name, help, registers: [registry],
      collect() {
        // Mirrors a monotonic in-process count.
        this.reset();
        this.inc(Number(o.supervisor()?.stats[stat] ?? 0));
      },
    });
  }
  return registry;
}
