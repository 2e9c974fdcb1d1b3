/**
 * The streams dr-recovery archives, by logical name. Segment files store the logical
 * name (not the Redis key) so an archive can be restored under another prefix/partition.
 *
 * Not archived: `heartbeats` (liveness only, rebuilt within seconds by live instances).
 */
import { PRIORITIES, type Keyspace } from '@solvestream/contracts';

export interface ArchivedStream {
  /** Logical name: `tasks:<priority>`, `events`, `results`, `dead-letter`, `control`, `alerts`, `config`. */
  name: string;
  key: string;
  /** Task lanes are restored as requeued entries, not replayed verbatim (see restore.ts). */
  lane: boolean;
}

export const HISTORY_STREAMS = ['events', 'results', 'dead-letter', 'control', 'alerts', 'config'] as const;

export function archivedStreams(keys: Keyspace): ArchivedStream[] {
  return [
    ...PRIORITIES.map((p) => ({ name: `tasks:${p}`, key: keys.lane(p), lane: true })),
    { name: 'events', key: keys.events, lane: false },
    { name: 'results', key: keys.results, lane: false },
    { name: 'dead-letter', key: keys.deadLetter, lane: false },
    { name: 'control', key: keys.control, lane: false },
    { name: 'alerts', key: keys.alerts, lane: false },
    { name: 'config', key: keys.config, lane: false },
  ];
}

/** Compares two stream ids (`ms-seq`); negative when a < b. */
export function compareIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const d = BigInt(am) - BigInt(bm);
  if (d !== 0n) return d < 0n ? -1 : 1;
  const s = BigInt(as) - BigInt(bs);
  return s === 0n ? 0 : s < 0n ? -1 : 1;
}
