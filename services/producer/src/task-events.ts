/**
 * A task's event history (`GET /v1/tasks/:id/events`), read from the shared `events`
 * stream. There is no per-task index, but stream ids are timestamps and every event of
 * a task lies between its `createdAt` and its projection's `updatedAt` (every transition,
 * webhook records included, bumps `updatedAt`; the caller widens the window for clock
 * skew), so the read scans only that window, in pages, and keeps this task's entries. At most `maxScan` entries are scanned; a longer
 * window answers what it found with `truncated: true`.
 */
import type { Redis } from 'ioredis';
import { decodeEventEntry, type Keyspace, type TaskEvent } from '@solvestream/contracts';

export interface HistoryOptions {
  redis: Redis;
  keys: Keyspace;
  taskId: string;
  from: number;
  to: number;
  /** Entries scanned at most. Default 200,000. */
  maxScan?: number;
  /** Page size. Default 2,000. */
  page?: number;
}

export async function taskHistory(o: HistoryOptions): Promise<{ events: TaskEvent[]; truncated: boolean }> {
  const maxScan = o.maxScan ?? 200_000;
  const page = o.page ?? 2_000;
  const events: TaskEvent[] = [];
  let start = `${Math.max(0, o.from)}-0`;
  const end = String(Math.max(o.from, o.to));
  let scanned = 0;
  for (;;) {
    const batch = (await o.redis.xrange(o.keys.events, start, end, 'COUNT', page)) as [string, string[]][];
    for (const [id, fields] of batch) {
      const d = decodeEventEntry(id, fields);
      if (d.ok && d.value.taskId === o.taskId) events.push(d.value);
    }
    scanned += batch.length;
    if (batch.length < page) return { events, truncated: false };
    if (scanned >= maxScan) return { events, truncated: true };
    start = `(${batch[batch.length - 1]![0]}`;
  }
}
