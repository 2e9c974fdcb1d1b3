#!/usr/bin/env node
/**
 * `dr`: disaster-recovery operations from a shell.
 *
 *   dr status              archive summary, epoch marker, per-stream archive lag
 *   dr backup              archive everything new now (refused while the service holds the archive)
 *   dr verify              read every segment, check every checksum and id order
 *   dr compact             compact the sealed segments past ARCHIVE_RETENTION_HOURS now (what the
 *                          service does every COMPACT_EVERY_MS; refused while it holds the archive;
 *                          at most 128 MiB of segments per run: repeat until `compacted` is false)
 *   dr restore [--merge]   rebuild the partition from the archive (empty Redis only; --merge keeps
 *                          what live services wrote after a wipe)
 *   dr config show | set | history | rollback   the versioned runtime config (config-cli.ts)
 *
 * Env: REDIS_URL, KEY_PREFIX, PARTITION, ARCHIVE_DIR (default ./archive), RESULT_TTL_SECONDS,
 * RESTORE_HOLD_MS, ARCHIVE_RETENTION_HOURS (the service's variables, same defaults).
 * Prints JSON. Exit codes: 0 done, 1 failed or refused (the message says why), 2 usage error.
 */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { appendAlert, keyspace } from '@solvestream/contracts';
import { createLogger, createRedis, env, PARTITION_ENV, parseCliEnv } from '@solvestream/core';
import { ArchiveWriter } from './archive';
import { compactArchive } from './compact';
import { DEFAULT_RESTORE_HOLD_MS, restore, RestoreRefusedError } from './restore';
import { DrService } from './service';
import { archiveStatus, verifyArchive } from './status';
import { CONFIG_USAGE, runConfigCommand } from './config-cli';

const CLI_ENV = {
  ...PARTITION_ENV,
  ARCHIVE_DIR: env.string({ doc: 'Archive directory', default: './archive' }),
  RESULT_TTL_SECONDS: env.int({ doc: 'Projection TTL after an outcome, s', default: 86_400, min: 0 }),
  RESTORE_HOLD_MS: env.int({ doc: 'How long restored tasks without a checkpoint wait before delivery, ms', default: DEFAULT_RESTORE_HOLD_MS, min: 0, max: 600_000 }),
  ARCHIVE_RETENTION_HOURS: env.int({ doc: 'Finished tasks older than this leave the archive on `dr compact`', default: 168, min: 0 }),
};

const USAGE = `usage: dr status | backup | verify | compact | restore [--merge]\n       ${CONFIG_USAGE.replace('usage: ', '')}`;

export async function run(argv: string[], out: (s: string) => void, source: Record<string, string | undefined> = process.env): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { merge: { type: 'boolean' }, reason: { type: 'string' }, by: { type: 'string' }, file: { type: 'string' } } });
  } catch (err) {
    out(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const [command] = parsed.positionals;
  if (!command || !['status', 'backup', 'verify', 'compact', 'restore', 'config'].includes(command)) {
    out(`${command ? `unknown command ${JSON.stringify(command)}` : 'missing command'}\n${USAGE}`);
    return 2;
  }
  const e = parseCliEnv(CLI_ENV, source, out);
  if (!e) return 2;
  const json = (v: unknown): void => out(JSON.stringify(v, null, 2));
  if (command === 'verify') {
    try {
      const r = verifyArchive(e.ARCHIVE_DIR);
      json(r);
      return r.ok ? 0 : 1;
    } catch (err) {
      out(`failed: ${(err as Error).message}`);
      return 1;
    }
  }
  if (command === 'compact') {
    if (e.ARCHIVE_RETENTION_HOURS === 0) {
      out('nothing to do: ARCHIVE_RETENTION_HOURS=0 keeps everything');
      return 0;
    }
    let writer: ArchiveWriter | undefined;
    try {
      writer = ArchiveWriter.open({ dir: e.ARCHIVE_DIR, prefix: e.KEY_PREFIX, partition: e.PARTITION });
      json(await compactArchive(writer, { cutoff: Date.now() - e.ARCHIVE_RETENTION_HOURS * 3_600_000 }));
      return 0;
    } catch (err) {
      out(`failed: ${(err as Error).message}`);
      return 1;
    } finally {
      writer?.close();
    }
  }
  const redis = createRedis({ url: e.REDIS_URL, name: 'dr-cli', role: 'worker' });
  const keys = keyspace({ prefix: e.KEY_PREFIX, partition: e.PARTITION });
  try {
    switch (command) {
      case 'config':
        return await runConfigCommand({ redis, keys, args: parsed.positionals.slice(1), values: parsed.values, out, env: source });
      case 'status':
        json(await archiveStatus(redis, keys, e.ARCHIVE_DIR));
        return 0;
      case 'backup': {
        const writer = ArchiveWriter.open({ dir: e.ARCHIVE_DIR, prefix: e.KEY_PREFIX, partition: e.PARTITION });
        const reader = createRedis({ url: e.REDIS_URL, name: 'dr-cli-reader', role: 'blocking' });
        const logger = createLogger({ service: 'dr-cli', level: 'silent' });
        const svc = new DrService({ redis, reader, keys, writer, logger, mode: 'manual', instance: `dr-cli-${hostname()}`, blockMs: 10 });
        try {
          const archived = await svc.catchUp();
          json({ archived, cursors: writer.manifest.cursors });
          return 0;
        } finally {
          await svc.close();
        }
      }
      case 'restore': {
        const report = await restore({ redis, keys, archive: e.ARCHIVE_DIR, mode: parsed.values.merge ? 'merge' : 'strict', resultTtlSeconds: e.RESULT_TTL_SECONDS, holdMs: e.RESTORE_HOLD_MS });
        await appendAlert(redis, keys, {
          kind: 'dr-restored', source: `dr-cli-${hostname()}`, at: Date.now(),
          message: `restored ${report.terminal} finished and requeued ${report.requeued} unfinished tasks in ${report.ms} ms (dr restore)`,
          data: { terminal: report.terminal, requeued: report.requeued, unrecoverable: report.unrecoverable.length, ms: report.ms },
        });
        json(report);
        return 0;
      }
    }
    return 2;
  } catch (err) {
    out(err instanceof RestoreRefusedError ? err.message : `failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    redis.disconnect();
  }
}

if (require.main === module) {
  void run(process.argv.slice(2), (s) => process.stdout.write(s + '\n')).then((code) => process.exit(code));
}
