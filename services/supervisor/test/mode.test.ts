/**
 * Degradation mode control: the decision with hysteresis on a fake clock, the signals
 * read from a real Redis, and the supervisor storing the mode the producers enforce.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { startRedis, type RedisServer } from '@solvestream/testkit';
import { createLogger } from '@solvestream/core';
import { encodeResultEntry, ensureWorkerGroups, keyspace, readMode, Transitions, writeConfig, type ResultEntry } from '@solvestream/contracts';
import { DEFAULT_THRESHOLDS, ModeController, ModeDecider, pressure, readSignals, type ModeSignals } from '../src/mode';
import { Supervisor } from '../src/supervisor';

const T = { ...DEFAULT_THRESHOLDS, enterAfterMs: 10_000, exitAfterMs: 20_000 };
const sig = (o: Partial<ModeSignals> = {}): ModeSignals => ({ errorRate: 0, outcomes: 100, queueDepth: 10, liveWorkers: 2, ...o });

test('pressure: each signal names its level; a few outcomes do not make an error rate', () => {
  assert.equal(pressure(sig(), T).level, 'normal');
  assert.equal(pressure(sig({ errorRate: 0.6 }), T).level, 'degraded');
  assert.equal(pressure(sig({ errorRate: 0.95 }), T).level, 'emergency');
  assert.equal(pressure(sig({ errorRate: 1, outcomes: 5 }), T).level, 'normal');
  assert.equal(pressure(sig({ queueDepth: 60_000 }), T).level, 'degraded');
  assert.equal(pressure(sig({ queueDepth: 95_000 }), T).level, 'emergency');
  assert.equal(pressure(sig({ liveWorkers: 0 }), T).level, 'degraded');
  assert.equal(pressure(sig({ liveWorkers: 0, queueDepth: 0 }), T).level, 'normal', 'no workers and nothing to do is fine');
});

test('hysteresis: up only after the condition held, down one step at a time after calm held, and not in between', () => {
  const d = new ModeDecider(T);
  let t = 0;
  const step = (mode: Parameters<ModeDecider['decide']>[0], s: ModeSignals, dt = 1_000) => d.decide(mode, s, (t += dt)).mode;

  assert.equal(step('normal', sig({ errorRate: 0.6 })), 'normal', 'a blip does not flip the mode');
  assert.equal(step('normal', sig()), 'normal');
  assert.equal(step('normal', sig({ errorRate: 0.6 })), 'normal', 'the clock restarted');
  assert.equal(step('normal', sig({ errorRate: 0.6 }), 5_000), 'normal');
  assert.equal(step('normal', sig({ errorRate: 0.6 }), 5_000), 'degraded', 'held 10 s');

  assert.equal(step('degraded', sig({ errorRate: 0.4 }), 30_000), 'degraded', 'between exit (0.3) and enter (0.5): stays');
  assert.equal(step('degraded', sig({ errorRate: 0.1 })), 'degraded');
  assert.equal(step('degraded', sig({ errorRate: 0.1 }), 19_000), 'degraded');
  assert.equal(step('degraded', sig({ errorRate: 0.1 }), 1_000), 'normal', 'calm held 20 s');

  assert.equal(step('normal', sig({ errorRate: 0.6 })), 'normal');
  assert.equal(step('normal', sig({ errorRate: 0.95 }), 10_000), 'emergency', 'the time under pressure counts for the stronger level too');
  assert.equal(step('emergency', sig({ errorRate: 0.2 }), 1_000), 'emergency');
  assert.equal(step('emergency', sig({ errorRate: 0.2 }), 20_000), 'degraded', 'one step down');
  assert.equal(step('degraded', sig({ errorRate: 0.2 }), 1_000), 'degraded', 'each step waits its own calm');
  assert.equal(step('degraded', sig({ errorRate: 0.2 }), 20_000), 'normal');
});

let server: RedisServer;
let redis: Redis;
const ks = keyspace({ prefix: 'md' });
const logger = createLogger({ service: 'supervisor-test', level: 'silent' });

before(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
after(async () => {
  redis.disconnect();
  await server.stop();
});
beforeEach(async () => {
  await redis.flushall();
  await ensureWorkerGroups(redis, ks);
});

const result = (i: number, outcome: 'solved' | 'failed'): ResultEntry => ({
  taskId: `t${i}`, outcome, tenant: 'x', type: 'turnstile', attempt: 1, completedAt: Date.now(), trace: {},
  ...(outcome === 'solved' ? { solution: { token: 't' } } : { errorCode: 'ERROR_X' }),
});

async function seed(o: { solved: number; failed: number; workers: string[]; queued: number }): Promise<void> {
  const p = redis.pipeline();
  for (let i = 0; i < o.solved; i++) p.xadd(ks.results, '*', ...encodeResultEntry(result(i, 'solved')));
  for (let i = 0; i < o.failed; i++) p.xadd(ks.results, '*', ...encodeResultEntry(result(1000 + i, 'failed')));
  for (const w of o.workers) p.xadd(ks.heartbeats, '*', 'v', '1', 'service', 'worker', 'instance', w, 'state', 'RUNNING', 'at', Date.now());
  p.xadd(ks.heartbeats, '*', 'v', '1', 'service', 'worker', 'instance', 'gone', 'state', 'stopped', 'at', Date.now());
  for (let i = 0; i < o.queued; i++) p.xadd(ks.lane('normal'), '*', 'filler', String(i));
  p.zadd(ks.delayed, 1, 'd1');
  await p.exec();
}

test('readSignals: error rate from recent results, queue depth from lanes + delayed, live workers from heartbeats', async () => {
  await seed({ solved: 30, failed: 70, workers: ['w1', 'w2', 'w1'], queued: 5 });
  const s = await readSignals(redis, ks, Date.now());
  assert.deepEqual(s, { errorRate: 0.7, outcomes: 100, queueDepth: 6, liveWorkers: 2 });
});

test('the supervisor stores the mode; producers then refuse normal priority; a pinned mode is left alone', async () => {
  await seed({ solved: 5, failed: 95, workers: ['w1'], queued: 0 });
  let now = Date.now();
  const mode = new ModeController({ redis, keys: ks, logger, instance: 'sup-test', thresholds: { ...T, enterAfterMs: 0 }, everyMs: 0 });
  const sup = new Supervisor({
    redis, keys: ks, transitions: new Transitions(redis, ks), logger, consumer: 'sup-test', leaseMs: 1000, maxFailures: 3,
    intervalMs: 50, consumerSweepMs: 60_000, clock: () => now, mode,
  });
  await sup.tick();
  const stored = await readMode(redis, ks);
  assert.equal(stored.mode, 'emergency');
  assert.equal(stored.by, 'sup-test');
  assert.match(stored.reason, /error rate 95%/);
  const refused = await new Transitions(redis, ks).admitAndSubmit({
    entry: { taskId: 'n1', type: 'turnstile', params: { websiteURL: 'https://example.com', websiteKey: '0x4AAAAAAAB' }, tenant: 'x', priority: 'high', attempt: 1, submittedAt: now, deadline: now + 60_000, trace: {} },
    now, admission: { openUntil: now + 1000, ratePerSecond: 0, burst: 1, maxOpen: 0, maxQueueDepth: 0 },
  });
  assert.deepEqual(refused, { admitted: false, reason: 'mode', mode: 'emergency' });

  await redis.hset(ks.mode, 'mode', 'normal', 'pinned', '1');
  now += 1_000;
  await sup.tick();
  assert.equal((await readMode(redis, ks)).mode, 'normal', 'pinned by an operator');
  assert.equal(mode.last?.reason, 'pinned by an operator');
});

test('the runtime config pins the mode (versioned, wins over the signals); mode=auto hands it back', async () => {
  await seed({ solved: 100, failed: 0, workers: ['w1'], queued: 0 });
  const mode = new ModeController({ redis, keys: ks, logger, instance: 'sup-test', thresholds: { ...T, enterAfterMs: 0, exitAfterMs: 0 }, everyMs: 0 });
  assert.equal(await mode.tick(Date.now()), 'normal');
  const v1 = await writeConfig(redis, ks, { doc: { mode: 'degraded' }, expectedVersion: 0, by: 'ops', reason: 'provider trouble' });
  assert.equal(await mode.tick(Date.now()), 'degraded', 'healthy signals, but the config pins it');
  const stored = await readMode(redis, ks);
  assert.equal(stored.mode, 'degraded');
  assert.match(stored.reason, /runtime config version 1/);
  await writeConfig(redis, ks, { doc: { mode: 'auto' }, expectedVersion: v1.version, by: 'ops', reason: 'back to auto' });
  assert.equal(await mode.tick(Date.now()), 'normal', 'auto: the supervisor decides again (and steps down)');
});
