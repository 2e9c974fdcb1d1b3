/**
 * dr-recovery process entry: parse env, open the archive, connect, run the loop and the
 * ops server, handle signals. One process per archive directory (the LOCK file says so).
 */
import './telemetry';
import { hostname } from 'node:os';
import { keyspace } from '@solvestream/contracts';
import { ConfigError, createLogger, createRedis, instanceId, onShutdownSignal, parseEnv } from '@solvestream/core';
import { createRegistry, Counter, Gauge, Histogram, startOpsServer, telemetryHandle } from '@solvestream/telemetry';
import { ArchiveWriter } from './archive';
import { DR_ENV } from './config';
import { DrService, type DrState } from './service';

const STATES: DrState[] = ['STARTING', 'ARCHIVING', 'RESTORING', 'HALTED', 'STOPPED'];

async function main(): Promise<void> {
  let e;
  try {
    e = parseEnv(DR_ENV);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`dr-recovery: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const instance = instanceId('dr-recovery', hostname());
  const logger = createLogger({ service: 'dr-recovery', level: e.LOG_LEVEL, base: { instance } });
  let lastError = 0;
  const onError = (err: Error): void => {
    if (Date.now() - lastError > 10_000) logger.warn({ err: err.message }, 'redis connection error');
    lastError = Date.now();
  };
  const redis = createRedis({ url: e.REDIS_URL, name: instance, role: 'worker', onError });
  const reader = createRedis({ url: e.REDIS_URL, name: `${instance}-reader`, role: 'blocking', onError });
  const keys = keyspace({ prefix: e.KEY_PREFIX, partition: e.PARTITION });
  const writer = ArchiveWriter.open({ dir: e.ARCHIVE_DIR, prefix: e.KEY_PREFIX, partition: e.PARTITION, segmentMaxBytes: e.SEGMENT_MAX_BYTES, segmentMaxAgeMs: e.SEGMENT_MAX_AGE_MS });
  if (writer.removedStrays.length > 0) logger.warn({ files: writer.removedStrays }, 'removed segment files the manifest does not name (left by a crash mid-rotation or mid-compaction)');
  if (e.ARCHIVE_RETENTION_HOURS > 0 && e.RESULT_TTL_SECONDS > 0 && e.ARCHIVE_RETENTION_HOURS * 3600 < e.RESULT_TTL_SECONDS) {
    logger.warn({ retentionHours: e.ARCHIVE_RETENTION_HOURS, resultTtlSeconds: e.RESULT_TTL_SECONDS }, 'ARCHIVE_RETENTION_HOURS is shorter than RESULT_TTL_SECONDS: a restore cannot bring back finished tasks whose projections would still be alive');
  }

  const registry = createRegistry('dr-recovery', instance);
  const archivedTotal = new Counter({ name: 'solvestream_dr_archived_entries_total', help: 'Stream entries appended to the archive', registers: [registry] });
  const lag = new Histogram({
    name: 'solvestream_dr_archive_lag_seconds', help: 'Age of the oldest entry of a batch when its frame was fsynced (RPO)',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry],
  });
  const compactions = new Counter({ name: 'solvestream_dr_compactions_total', help: 'Compaction runs that changed the archive', registers: [registry] });
  const compactedTasks = new Counter({ name: 'solvestream_dr_compacted_tasks_total', help: 'Finished tasks dropped from the archive by retention', registers: [registry] });
  const service = new DrService({
    redis, reader, keys, writer, logger, mode: e.DR_MODE, instance, batch: e.ARCHIVE_BATCH, blockMs: e.ARCHIVE_BLOCK_MS,
    groupsEveryMs: e.GROUPS_EVERY_MS, resultTtlSeconds: e.RESULT_TTL_SECONDS, restoreHoldMs: e.RESTORE_HOLD_MS,
    retentionMs: e.ARCHIVE_RETENTION_HOURS * 3_600_000, compactEveryMs: e.COMPACT_EVERY_MS,
    onCompact: (r) => { compactions.inc(); compactedTasks.inc(r.summary.tasksDropped); },
    onBatch: (n, lagMs) => { archivedTotal.inc(n); lag.observe(lagMs / 1000); },
  });
  new Gauge({
    name: 'solvestream_dr_state', help: '1 for the current state of the dr loop', labelNames: ['state'], registers: [registry],
    collect() { for (const s of STATES) this.set({ state: s }, service.state === s ? 1 : 0); },
  });
  const ops = await startOpsServer({
    port: e.PORT, host: e.HOST, registry,
    live: () => {
      const age = Date.now() - service.lastLoopAt;
      return { ok: service.state === 'STARTING' || age < 30_000, detail: { state: service.state, loopAgeMs: age, haltReason: service.haltReason, archived: service.archived, lastLagMs: service.lastLagMs } };
    },
    ready: async () => {
      if (service.state !== 'ARCHIVING') throw new Error(`state ${service.state}${service.haltReason ? `: ${service.haltReason}` : ''}`);
      await redis.ping();
    },
  });
  onShutdownSignal({
    logger,
    exitWithParent: process.env.SS_EXIT_WITH_PARENT === '1',
    shutdown: async () => {
      await ops.close();
      await service.close();
      await redis.quit().catch(() => redis.disconnect());
      await telemetryHandle().shutdown();
    },
  });
  await service.start();
  logger.info({ url: ops.url, mode: e.DR_MODE, archiveDir: e.ARCHIVE_DIR, state: service.state }, 'dr-recovery running');
}

main().catch((err: unknown) => {
  process.stderr.write(`dr-recovery: fatal: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
