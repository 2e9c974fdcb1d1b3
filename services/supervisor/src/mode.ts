/**
 * Degradation mode control: from the fleet's signals, decide what the producers admit
 * (normal → degraded: high and critical only → emergency: critical only) and store it
 * in `keys.mode`, which every producer enforces at admission (inside submitTask.lua).
 *
 * Signals, read from Redis every tick (no service is called):
 *   errorRate    failed / (solved + failed) among the `results` of the last `windowMs`
 *                (ignored below `minOutcomes`, so a handful of failures means nothing)
 *   queueDepth   every lane's length (queued + in flight) + delayed retries
 *   liveWorkers  distinct worker instances with a heartbeat in the last `liveWindowMs`
 *
 * Decision (a small state machine with hysteresis):
 *
 *   normal ──enter(degraded) held enterAfterMs──▶ degraded ──enter(emergency) held──▶ emergency
 *      ▲                                            │  ▲                                  │
 *      └──── below exit(degraded) held exitAfterMs ─┘  └── below exit(emergency) held ────┘
 *
 *   - a level is entered when its ENTER condition has held for `enterAfterMs` (a blip
 *     does not flip the mode); escalation may jump straight to emergency
 *   - a level is left, one step at a time, only when its EXIT condition (stricter than
 *     the enter one: lower thresholds) has held for `exitAfterMs`
 *   - enter(degraded): errorRate ≥ 0.5, or queueDepth ≥ 50,000, or no live worker while
 *     work is queued;  exit: errorRate < 0.3, queueDepth < 30,000 and a live worker
 *   - enter(emergency): errorRate ≥ 0.9, or queueDepth ≥ 90,000;
 *     exit: errorRate < 0.7 and queueDepth < 70,000
 *   (defaults; all configurable)
 *
 * An operator can pin a mode (`HSET <mode key> mode emergency pinned 1`): a pinned mode
 * is left alone until `pinned` is removed. The versioned runtime config pins it too
 * (`dr config set mode=emergency`; `mode=auto` hands it back): its mode is written, with
 * the version as the reason, and wins over the hash pin. Several supervisors may run: each decides
 * from the same Redis data and `writeMode` is a no-op when the mode is unchanged.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '@solvestream/core';
import { decodeResultEntry, fieldsToObject, readConfig, readMode, writeMode, type Keyspace, type Mode } from '@solvestream/contracts';

export interface ModeSignals {
  errorRate: number;
  outcomes: number;
  queueDepth: number;
  liveWorkers: number;
}

export interface LevelThresholds {
  errorRate: number;
  queueDepth: number;
}

export interface ModeThresholds {
  enterDegraded: LevelThresholds;
  exitDegraded: LevelThresholds;
  enterEmergency: LevelThresholds;
  exitEmergency: LevelThresholds;
  /** Below this many outcomes in the window the error rate is not trusted. */
  minOutcomes: number;
  /** A condition must hold this long before the mode goes up, ms. */
  enterAfterMs: number;
  /** A calm must hold this long before the mode steps down, ms. */
  exitAfterMs: number;
}

export const DEFAULT_THRESHOLDS: ModeThresholds = {
  enterDegraded: { errorRate: 0.5, queueDepth: 50_000 },
  exitDegraded: { errorRate: 0.3, queueDepth: 30_000 },
  enterEmergency: { errorRate: 0.9, queueDepth: 90_000 },
  exitEmergency: { errorRate: 0.7, queueDepth: 70_000 },
  minOutcomes: 50,
  enterAfterMs: 30_000,
  exitAfterMs: 60_000,
};

const RANK: Record<Mode, number> = { normal: 0, degraded: 1, emergency: 2 };
const BY_RANK: Mode[] = ['normal', 'degraded', 'emergency'];

/** The level the signals call for under `enter` thresholds, with the reason. */
export function pressure(s: ModeSignals, t: ModeThresholds): { level: Mode; reason: string } {
  const rateTrusted = s.outcomes >= t.minOutcomes;
  const pct = (x: number): string => `${Math.round(x * 100)}%`;
  if (rateTrusted && s.errorRate >= t.enterEmergency.errorRate) return { level: 'emergency', reason: `error rate ${pct(s.errorRate)} of ${s.outcomes} outcomes` };
  if (s.queueDepth >= t.enterEmergency.queueDepth) return { level: 'emergency', reason: `queue depth ${s.queueDepth}` };
  if (rateTrusted && s.errorRate >= t.enterDegraded.errorRate) return { level: 'degraded', reason: `error rate ${pct(s.errorRate)} of ${s.outcomes} outcomes` };
  if (s.queueDepth >= t.enterDegraded.queueDepth) return { level: 'degraded', reason: `queue depth ${s.queueDepth}` };
  if (s.liveWorkers === 0 && s.queueDepth > 0) return { level: 'degraded', reason: `no live worker, ${s.queueDepth} tasks waiting` };
  return { level: 'normal', reason: 'signals normal' };
}

/** True when `current` (above normal) may be left: every signal is under its exit threshold. */
export function calm(current: Mode, s: ModeSignals, t: ModeThresholds): boolean {
  const rateOk = (limit: number): boolean => s.outcomes < t.minOutcomes || s.errorRate < limit;
  if (current === 'emergency') return rateOk(t.exitEmergency.errorRate) && s.queueDepth < t.exitEmergency.queueDepth;
  if (current === 'degraded') return rateOk(t.exitDegraded.errorRate) && s.queueDepth < t.exitDegraded.queueDepth && (s.liveWorkers > 0 || s.queueDepth === 0);
  return true;
}

export interface ModeDecision {
  mode: Mode;
  reason: string;
}

/**
 * The pure decision, given the current mode and since when each condition has held.
 * Keeps its own memory of "pressure since" / "calm since"; feed it every tick.
 */
export class ModeDecider {
  private pressureSince: { level: Mode; at: number } | undefined;
  private calmSince: number | undefined;

  constructor(private readonly t: ModeThresholds = DEFAULT_THRESHOLDS) {}

  decide(current: Mode, s: ModeSignals, now: number): ModeDecision {
    const p = pressure(s, this.t);
    if (RANK[p.level] > RANK[current]) {
      this.calmSince = undefined;
      if (!this.pressureSince || RANK[this.pressureSince.level] < RANK[p.level]) {
        // A stronger condition starts its own clock, but keeps the time already under pressure.
        this.pressureSince = { level: p.level, at: this.pressureSince?.at ?? now };
      }
      if (now - this.pressureSince.at >= this.t.enterAfterMs) {
        this.pressureSince = undefined;
        return { mode: p.level, reason: p.reason };
      }
      return { mode: current, reason: `pressure for ${p.level}: ${p.reason}` };
    }
    this.pressureSince = undefined;
    if (current === 'normal') return { mode: current, reason: p.reason };
    if (!calm(current, s, this.t)) {
      this.calmSince = undefined;
      return { mode: current, reason: `still under pressure (${p.reason})` };
    }
    this.calmSince ??= now;
    if (now - this.calmSince >= this.t.exitAfterMs) {
      this.calmSince = undefined;
      const next = BY_RANK[RANK[current] - 1] ?? 'normal';
      return { mode: next, reason: `calm for ${Math.round(this.t.exitAfterMs / 1000)} s (${p.reason})` };
    }
    return { mode: current, reason: 'calming down' };
  }
}

export interface SignalOptions {
  /** Error-rate window, ms. Default 60,000. */
  windowMs?: number;
  /** A worker with a heartbeat this recent is live, ms. Default 15,000 (3 heartbeats). */
  liveWindowMs?: number;
  /** Most results / heartbeats scanned per tick. Default 20,000. */
  maxScan?: number;
}

/** Reads the three signals from Redis. */
export async function readSignals(redis: Redis, keys: Keyspace, now: number, o: SignalOptions = {}): Promise<ModeSignals> {
  const windowMs = o.windowMs ?? 60_000;
  const liveWindowMs = o.liveWindowMs ?? 15_000;
  const maxScan = o.maxScan ?? 20_000;
  const p = redis.pipeline();
  p.zcard(keys.delayed);
  for (const lane of keys.lanes) p.xlen(lane);
  p.xrange(keys.results, String(Math.max(0, now - windowMs)), '+', 'COUNT', maxScan);
  p.xrange(keys.heartbeats, String(Math.max(0, now - liveWindowMs)), '+', 'COUNT', maxScan);
  const r = (await p.exec()) ?? [];
  for (const [err] of r) if (err) throw err;
  const n = keys.lanes.length;
  const queueDepth = Array.from({ length: n + 1 }, (_, i) => Number(r[i]?.[1] ?? 0)).reduce((a, b) => a + b, 0);
  let solved = 0;
  let failed = 0;
  for (const [, fields] of (r[n + 1]?.[1] ?? []) as [string, string[]][]) {
    const d = decodeResultEntry(fields);
    if (!d.ok) continue;
    if (d.value.outcome === 'solved') solved++;
    else if (d.value.outcome === 'failed') failed++;
  }
  const live = new Set<string>();
  for (const [, fields] of (r[n + 2]?.[1] ?? []) as [string, string[]][]) {
    const f = fieldsToObject(fields);
    if (f.service === 'worker' && f.instance && !['stopped', 'STOPPED', 'drained', 'DRAINED'].includes(f.state ?? '')) live.add(f.instance);
  }
  const outcomes = solved + failed;
  return { errorRate: outcomes ? failed / outcomes : 0, outcomes, queueDepth, liveWorkers: live.size };
}

export interface ModeControllerOptions extends SignalOptions {
  redis: Redis;
  keys: Keyspace;
  logger: Logger;
  /** Written as `by` with every change. */
  instance: string;
  thresholds?: ModeThresholds;
  /** Least time between two evaluations, ms (the supervisor ticks faster). Default 5,000. */
  everyMs?: number;
}

/** One supervisor's mode loop step: read signals, decide, write when the mode changes. */
export class ModeController {
  private readonly decider: ModeDecider;
  private lastRun = Number.NEGATIVE_INFINITY;
  last: { mode: Mode; signals: ModeSignals; reason: string } | undefined;

  constructor(private readonly o: ModeControllerOptions) {
    this.decider = new ModeDecider(o.thresholds ?? DEFAULT_THRESHOLDS);
  }

  /** Evaluates at most every `everyMs`; returns the mode in force (undefined when skipped). */
  async tick(now: number): Promise<Mode | undefined> {
    if (now - this.lastRun < (this.o.everyMs ?? 5_000)) return undefined;
    this.lastRun = now;
    const [state, pinned, signals, config] = await Promise.all([
      readMode(this.o.redis, this.o.keys),
      this.o.redis.hget(this.o.keys.mode, 'pinned'),
      readSignals(this.o.redis, this.o.keys, now, this.o),
      readConfig(this.o.redis, this.o.keys),
    ]);
    const configured = config?.doc.mode;
    if (config && configured && configured !== 'auto') {
      const reason = `pinned by runtime config version ${config.version}`;
      this.last = { mode: configured, signals, reason };
      if (await writeMode(this.o.redis, this.o.keys, { mode: configured, since: now, reason, by: this.o.instance })) {
        this.o.logger.warn({ from: state.mode, to: configured, configVersion: config.version }, 'degradation mode set by runtime config');
      }
      return configured;
    }
    if (pinned) {
      this.last = { mode: state.mode, signals, reason: 'pinned by an operator' };
      return state.mode;
    }
    const d = this.decider.decide(state.mode, signals, now);
    this.last = { mode: d.mode, signals, reason: d.reason };
    if (d.mode !== state.mode) {
      await writeMode(this.o.redis, this.o.keys, { mode: d.mode, since: now, reason: d.reason, by: this.o.instance });
      const log = RANK[d.mode] > RANK[state.mode] ? this.o.logger.warn.bind(this.o.logger) : this.o.logger.info.bind(this.o.logger);
      log({ from: state.mode, to: d.mode, reason: d.reason, ...signals }, 'degradation mode changed');
    }
    return d.mode;
  }
}
