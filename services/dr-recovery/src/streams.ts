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
  const ia = a.indexOf('-');
  const ib = b.indexOf('-');
  const am = Number(ia < 0 ? a : a.slice(0, ia));
  const bm = Number(ib < 0 ? b : b.slice(0, ib));
  const as = ia < 0 ? 0 : Number(a.slice(ia + 1));
  const bs = ib < 0 ? 0 : Number(b.slice(ib + 1));
  // Ids within 2^53 (every id Redis generates for a clock in ms) compare as numbers; past it, exactly.
  if (Number.isSafeInteger(am) && Number.isSafeInteger(bm) && Number.isSafeInteger(as) && Number.isSafeInteger(bs)) {
    return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
  }
  return compareBig(a, b);
}

function compareBig(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const d = BigInt(am) - BigInt(bm);
  if (d !== 0n) return d < 0n ? -1 : 1;
  const s = BigInt(as) - BigInt(bs);
  return s === 0n ? 0 : s < 0n ? -1 : 1;
}
