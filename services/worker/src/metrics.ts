/**
 * The worker's Prometheus metrics. Outcome counters are fed by the worker loop; stream
 * gauges (length, pending, lag per lane) are read from Redis at scrape time.
 */
import type { Redis } from 'ioredis';
import type { Keyspace, TaskType } from '@solvestream/contracts';
import { Counter, createRegistry, Gauge, Histogram, registerStreamMetrics, REQUEST_BUCKETS, SOLVE_BUCKETS, type Registry } from '@solvestream/telemetry';
import type { ProviderCall } from './provider/client';
import type { SolveEnd } from './solve';
import type { Worker } from './worker';

export interface WorkerMetrics {
  registry: Registry;
  /** Records how one delivery ended; `submittedAt` is the task's submit time, `provider` the one named in its outcome. */
  record(end: SolveEnd, type: TaskType, provider: string | undefined, submittedAt: number, now: number): void;
  poison(): void;
  /** Checkpoints written again after a wipe or a failed write (checkpoint-keeper.ts). */
  checkpointsReasserted(n: number): void;
  /** Every provider request: duration by provider and phase, errors by code. */
  providerCall(call: ProviderCall): void;
}

/** What the metrics need to know about the providers (the router's `health()`). */
export type ProviderHealthSource = () => { name: string; eligible: boolean; breaker: { state: string } }[];

const BREAKER_STATES = ['closed', 'half-open', 'open'];

export function createWorkerMetrics(o: { instance: string; redis: Redis; keys: Keyspace; worker: () => Worker | undefined; providers?: ProviderHealthSource }): WorkerMetrics {
  const registry = createRegistry('worker', o.instance);
  registerStreamMetrics(registry, o.redis, o.keys);
  const completed = new Counter({
    name: 'solvestream_worker_deliveries_total',
    help: 'Deliveries by how they ended: solved, failed, duplicate, retried, abandoned (handed back), lost (lease)',
    labelNames: ['type', 'end'], registers: [registry],
  });
  const duration = new Histogram({
    name: 'solvestream_task_duration_seconds', help: 'Submit to outcome of tasks this worker finished, by type, provider (none: failed before any provider took it) and outcome',
    labelNames: ['type', 'provider', 'outcome'], buckets: SOLVE_BUCKETS, registers: [registry],
  });
  const poison = new Counter({ name: 'solvestream_worker_poison_total', help: 'Undecodable entries moved to dead-letter', registers: [registry] });
  const reasserted = new Counter({
    name: 'solvestream_worker_checkpoints_reasserted_total',
    help: 'Provider checkpoints written again because the first copy was lost (Redis wiped and restored) or its write failed',
    registers: [registry],
  });
  new Gauge({
    name: 'solvestream_worker_inflight_tasks', help: 'Tasks being solved by this process', registers: [registry],
    collect() { this.set(o.worker()?.stats.inFlight ?? 0); },
  });
  new Gauge({
    name: 'solvestream_config_version', help: 'Version of the runtime config in force in this process (0: none)', registers: [registry],
    collect() { this.set(o.worker()?.configVersion ?? 0); },
  });
  new Gauge({
    name: 'solvestream_provider_breaker_state', help: 'Circuit breaker per provider: 1 for the current state', labelNames: ['provider', 'state'], registers: [registry],
    collect() {
      for (const p of o.providers?.() ?? []) for (const st of BREAKER_STATES) this.set({ provider: p.name, state: st }, p.breaker.state === st ? 1 : 0);
    },
  });
  new Gauge({
    name: 'solvestream_provider_eligible', help: 'Whether new tasks may go to the provider (breaker not open, balance not low)', labelNames: ['provider'], registers: [registry],
    collect() {
      for (const p of o.providers?.() ?? []) this.set({ provider: p.name }, p.eligible ? 1 : 0);
    },
  });
  const requestDuration = new Histogram({
    name: 'solvestream_provider_request_duration_seconds', help: 'Provider HTTP requests by provider and phase (submit, poll, balance, report)',
    labelNames: ['provider', 'phase'], buckets: REQUEST_BUCKETS, registers: [registry],
  });
  const providerErrors = new Counter({
    name: 'solvestream_provider_errors_total', help: 'Provider error answers and transport failures by provider, phase and code',
    labelNames: ['provider', 'phase', 'code'], registers: [registry],
  });
  return {
    registry,
    providerCall(call) {
      if (call.seconds !== undefined) requestDuration.observe({ provider: call.provider, phase: call.phase }, call.seconds);
      if (call.code !== 'OK' && call.code !== 'CAPCHA_NOT_READY') providerErrors.inc({ provider: call.provider, phase: call.phase, code: call.code });
    },
    record(end, type, provider, submittedAt, now) {
      completed.inc({ type, end });
      if (end === 'solved' || end === 'failed') duration.observe({ type, provider: provider ?? 'none', outcome: end }, Math.max(0, now - submittedAt) / 1000);
    },
    poison: () => poison.inc(),
    checkpointsReasserted: (n) => reasserted.inc(n),
  };
}
