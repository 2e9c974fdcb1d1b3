/**
 * Applies the versioned runtime config (contracts `runtime-config.ts`) to a running
 * worker: provider keys, the providers that take new tasks and their order, and the
 * concurrency bound. A key rotation therefore reaches every worker within one check
 * interval, without a restart.
 *
 * Loop: every `intervalMs` (default 1 s: one XREVRANGE, cheap) read the config in
 * force; when its version differs from the one applied, apply it. The first check runs
 * in `start()`, before the worker reads any task, so a worker never submits with a key
 * the config already replaced.
 *
 * Rules:
 * - A setting the config leaves out falls back to the worker's start-up value (env),
 *   so removing `providers.x.key` reverts to the key the worker was started with.
 * - No config in Redis (never set, or Redis lost its data before a restore) changes
 *   NOTHING: the last applied version stays in force. Reverting to env keys after a
 *   wipe could bring a revoked key back.
 * - Names the worker does not know are logged once per version and ignored.
 * - Errors (Redis down) are logged, rate-limited; the current settings stay.
 * - Keys are logged by fingerprint only.
 */
import type { Redis } from 'ioredis';
import { keyFingerprint, readConfig, type ConfigVersion, type Keyspace } from '@solvestream/contracts';
import { PeriodicCheck, type Logger } from '@solvestream/core';
import type { ProviderRouter } from './provider/router';
import type { Worker } from './worker';

export interface RuntimeConfigOptions {
  redis: Redis;
  keys: Keyspace;
  logger: Logger;
  router: ProviderRouter;
  worker: Worker;
  /** Default 1,000 ms. */
  intervalMs?: number;
  /** Called after each applied version (metrics). */
  onApplied?: (v: ConfigVersion) => void;
}

export class RuntimeConfigWatcher {
  private readonly loop: PeriodicCheck;
  private applied = 0;
  private lastErrorAt = 0;
  /** Start-up values, restored for settings a version leaves out. */
  private readonly baseline: { keys: Map<string, string>; concurrency: number };

  constructor(private readonly o: RuntimeConfigOptions) {
    this.baseline = {
      keys: new Map([...o.router.providers].map(([name, p]) => [name, p.client.key])),
      concurrency: o.worker.maxConcurrency,
    };
    this.loop = new PeriodicCheck(() => this.readAndApply(), o.intervalMs ?? 1000);
  }

  /** Version in force here (0: none applied yet). */
  get version(): number {
    return this.applied;
  }

  async start(): Promise<void> {
    await this.loop.start();
  }

  close(): void {
    this.loop.close();
  }

  /** Reads the config and applies it if it is a new version. Never throws; never overlaps. */
  check(): Promise<void> {
    return this.loop.check();
  }

  private async readAndApply(): Promise<void> {
    let v: ConfigVersion | undefined;
    try {
      v = await readConfig(this.o.redis, this.o.keys);
    } catch (err) {
      if (Date.now() - this.lastErrorAt > 10_000) this.o.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'runtime config check failed; keeping the current settings');
      this.lastErrorAt = Date.now();
      return;
    }
    if (!v || v.version === this.applied) return;
    this.apply(v);
  }

  private apply(v: ConfigVersion): void {
    const { router, worker, logger } = this.o;
    const changes: Record<string, string> = {};
    for (const [name, p] of router.providers) {
      const want = v.doc.providers?.[name]?.key ?? this.baseline.keys.get(name) ?? p.client.key;
      if (want !== p.client.key) {
        changes[`${name}.key`] = `${keyFingerprint(p.client.key)} → ${keyFingerprint(want)}`;
        p.client.setKey(want);
      }
    }
    const disabled = Object.entries(v.doc.providers ?? {}).filter(([, s]) => s.enabled === false).map(([name]) => name);
    const unknown = new Set(router.configure({ order: v.doc.order, disabled }));
    for (const name of Object.keys(v.doc.providers ?? {})) if (!router.providers.has(name)) unknown.add(name);
    const concurrency = v.doc.limits?.workerConcurrency ?? this.baseline.concurrency;
    if (concurrency !== worker.maxConcurrency) {
      changes.concurrency = `${worker.maxConcurrency} → ${concurrency}`;
      worker.setConcurrency(concurrency);
    }
    const from = this.applied;
    this.applied = v.version;
    worker.configVersion = v.version;
    logger.info({
      configVersion: v.version, from, by: v.by, reason: v.reason, changes,
      order: router.order.map((p) => p.name), disabled,
    }, 'runtime config applied');
    if (unknown.size) logger.warn({ configVersion: v.version, providers: [...unknown] }, 'runtime config names providers this worker was not started with; ignored');
    try {
      this.o.onApplied?.(v);
    } catch {
      /* metrics never break the watcher */
    }
  }
}
