#!/usr/bin/env node
/**
 * `ss-dlq`: dead-letter operations from a shell, straight against Redis.
 *
 *   ss-dlq list    [--kind K] [--task ID] [--reason TEXT] [--code C] [--since MS] [--until MS] [--limit N]
 *   ss-dlq show    <id>
 *   ss-dlq replay  <id> | --all | <filter flags>
 *   ss-dlq purge   <id> | --all | <filter flags>
 *
 * Env: REDIS_URL (default redis://127.0.0.1:6379), KEY_PREFIX, PARTITION. Prints JSON.
 * Exit codes: 0 done, 1 failed, 2 usage error (the message names the bad argument).
 */
import { parseArgs } from 'node:util';
import { keyspace, Transitions } from '@solvestream/contracts';
import { createRedis, PARTITION_ENV, parseCliEnv } from '@solvestream/core';
import {
  getDeadLetter, listDeadLetters, NotReplayableError, purgeDeadLetters, replayDeadLetter, replayMatching,
  type DeadLetterFilter,
} from './dead-letter';

const CLI_ENV = PARTITION_ENV;

const USAGE = `usage: ss-dlq list|show|replay|purge [id] [--all] [--kind K] [--task ID] [--reason TEXT] [--code C] [--since MS] [--until MS] [--limit N]`;

class UsageError extends Error {}

function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name}: must be a number (got ${JSON.stringify(v)})`);
  return n;
}

export async function run(argv: string[], out: (s: string) => void, source: Record<string, string | undefined> = process.env): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        all: { type: 'boolean' }, kind: { type: 'string' }, task: { type: 'string' }, reason: { type: 'string' },
        code: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' }, limit: { type: 'string' },
      },
    });
  } catch (err) {
    out(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const [command, id] = parsed.positionals;
  const v = parsed.values;
  const e = parseCliEnv(CLI_ENV, source, out);
  if (!e) return 2;
  const redis = createRedis({ url: e.REDIS_URL, name: 'ss-dlq', role: 'worker' });
  const keys = keyspace({ prefix: e.KEY_PREFIX, partition: e.PARTITION });
  const ctx = { redis, keys, transitions: new Transitions(redis, keys) };
  try {
    const filter: DeadLetterFilter = {
      kind: v.kind, taskId: v.task, reason: v.reason, errorCode: v.code, since: num('since', v.since), until: num('until', v.until),
    };
    for (const k of Object.keys(filter) as (keyof DeadLetterFilter)[]) if (filter[k] === undefined) delete filter[k];
    const bulkAllowed = (): void => {
      if (!id && !v.all && Object.keys(filter).length === 0) throw new UsageError(`${command}: give an entry id, filter flags, or --all`);
    };
    switch (command) {
      case 'list':
        out(JSON.stringify(await listDeadLetters(redis, keys, { filter, limit: num('limit', v.limit) ?? 100 }), null, 2));
        return 0;
      case 'show': {
        if (!id) throw new UsageError('show: give an entry id');
        const d = await getDeadLetter(redis, keys, id);
        if (!d) { out(`no dead-letter entry ${id}`); return 1; }
        out(JSON.stringify(d, null, 2));
        return 0;
      }
      case 'replay':
        bulkAllowed();
        out(JSON.stringify(id ? await replayDeadLetter(ctx, id) : await replayMatching(ctx, filter), null, 2));
        return 0;
      case 'purge':
        bulkAllowed();
        out(JSON.stringify({ purged: await purgeDeadLetters(redis, keys, filter, id ? [id] : undefined) }));
        return 0;
      default:
        throw new UsageError(command ? `unknown command ${JSON.stringify(command)}` : 'missing command');
    }
  } catch (err) {
    if (err instanceof UsageError) { out(`${err.message}\n${USAGE}`); return 2; }
    if (err instanceof NotReplayableError) { out(err.message); return 1; }
    out(`failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    redis.disconnect();
  }
}

if (require.main === module) {
  void run(process.argv.slice(2), (s) => process.stdout.write(s + '\n')).then((code) => process.exit(code));
}
