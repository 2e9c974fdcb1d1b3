/**
 * Degradation mode: what the producer admits while the system is in trouble. The
 * supervisor computes it (error rate, queue depth, live workers, with hysteresis) and
 * stores it in `keys.mode`; every producer enforces it inside `submitTask.lua`, which
 * mirrors `MODE_PRIORITIES` below.
 *
 *   normal     every priority
 *   degraded   high and critical only
 *   emergency  critical only
 *
 * The hash holds `mode`, `since` (epoch ms), `reason` (text) and `by` (who set it). A
 * missing key reads as normal.
 */
import type { Redis } from 'ioredis';
import type { Keyspace, Priority } from './keys';

export const MODES = ['normal', 'degraded', 'emergency'] as const;
export type Mode = (typeof MODES)[number];

export const MODE_PRIORITIES: Record<Mode, readonly Priority[]> = {
  normal: ['critical', 'high', 'normal', 'low'],
  degraded: ['critical', 'high'],
  emergency: ['critical'],
};

export interface ModeState {
  mode: Mode;
  since: number;
  reason: string;
  by: string;
}

export const isMode = (v: unknown): v is Mode => typeof v === 'string' && (MODES as readonly string[]).includes(v);

export async function readMode(redis: Redis, keys: Keyspace): Promise<ModeState> {
  const h = await redis.hgetall(keys.mode);
  const mode = isMode(h.mode) ? h.mode : 'normal';
  return { mode, since: Number(h.since ?? 0) || 0, reason: h.reason ?? '', by: h.by ?? '' };
}

/** Sets the mode (no-op when it is already `state.mode`, so `since` keeps the first switch time). */
export async function writeMode(redis: Redis, keys: Keyspace, state: ModeState): Promise<boolean> {
  const current = await redis.hget(keys.mode, 'mode');
  if (current === state.mode) return false;
  await redis.hset(keys.mode, 'mode', state.mode, 'since', String(state.since), 'reason', state.reason.slice(0, 500), 'by', state.by);
  return true;
}
