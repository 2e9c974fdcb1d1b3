/**
 * Stream plumbing shared by every consumer: group creation and reply parsing.
 */
import type { Redis } from 'ioredis';
import { WORKERS_GROUP, type Keyspace } from './keys';

/** One raw entry as XREADGROUP/XRANGE return it: `[id, [field, value, …]]`. */
export type RawEntry = [id: string, fields: string[]];
/** A raw entry together with the stream it came from. */
export interface StreamEntry {
  stream: string;
  id: string;
  /** null when the entry was deleted while pending (Redis returns a nil payload). */
  fields: string[] | null;
}

/**
 * Creates the `workers` group on every lane (MKSTREAM, from the start of the stream) if
 * it is missing. Safe to call concurrently from many processes and after a Redis
 * restart or wipe: BUSYGROUP means someone else already did it.
 */
export async function ensureWorkerGroups(redis: Redis, keys: Keyspace, group = WORKERS_GROUP): Promise<void> {
  await Promise.all(
    keys.lanes.map(async (lane) => {
      try {
        await redis.xgroup('CREATE', lane, group, '0', 'MKSTREAM');
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith('BUSYGROUP')) throw err;
      }
    }),
  );
}

/** Flattens an XREADGROUP/XREAD reply (`[[stream, [[id, fields|null], …]], …]` or null). */
export function flattenReadReply(reply: unknown): StreamEntry[] {
  if (!Array.isArray(reply)) return [];
  const out: StreamEntry[] = [];
  for (const streamReply of reply as [string, [string, string[] | null][]][]) {
    const [stream, entries] = streamReply;
    for (const [id, fields] of entries) out.push({ stream, id, fields });
  }
  return out;
}
