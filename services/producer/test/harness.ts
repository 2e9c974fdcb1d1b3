/**
 * Test harness: a private redis-server, the producer app built on it exactly as
 * main.ts builds it (api + blocking connections, results listener, transitions),
 * and a minimal "worker" that claims and completes tasks through the real Lua
 * transitions. No test file here runs tests; node --test loads it harmlessly.
 */
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import {
  decodeTaskEntry,
  ensureWorkerGroups,
  flattenReadReply,
  keyspace,
  Transitions,
  WORKERS_GROUP,
  type Keyspace,
  type ResultEntry,
  type TaskEntry,
} from '@solvestream/contracts';
import { createLogger, createRedis } from '@solvestream/core';
import { startRedis, waitFor, type RedisServer } from '@solvestream/testkit';
import { buildApp, type AppDeps } from '../src/app';
import { ResultsDispatcher } from '../src/delivery/dispatcher';
import { ResultsListener } from '../src/results-listener';
import { TenantDirectory, type StaticTenants, type TenantDefaults } from '../src/tenants';

export interface Harness {
  server: RedisServer;
  /** api-role connection used by the app. */
  redis: Redis;
  /** A separate patient connection for the test's own "worker" steps. */
  worker: Redis;
  keys: Keyspace;
  transitions: Transitions;
  workerTransitions: Transitions;
  listener: ResultsListener;
  app: FastifyInstance;
  tenants: TenantDirectory;
  /** Started only with `dispatcher: true`. */
  dispatcher?: ResultsDispatcher;
  /** Every log line the app wrote. */
  logs: string[];
  close(): Promise<void>;
}

export interface HarnessOptions {
  server?: RedisServer;
  aof?: boolean;
  maxWaitSeconds?: number;
  bodyLimitBytes?: number;
  blockMs?: number;
  /** Tenants from a "file" (static) and defaults; the directory also reads Redis. */
  staticTenants?: StaticTenants;
  tenantDefaults?: Partial<TenantDefaults>;
  authRequired?: boolean;
  /** Any other app option (admission caps, grace, gateway limits, …). */
  app?: Partial<AppDeps>;
  /** Start a results dispatcher (stats, open-task release, webhook scheduling). */
  dispatcher?: boolean;
  clock?: () => number;
}

export async function startHarness(o: HarnessOptions = {}): Promise<Harness> {
  const server = o.server ?? (await startRedis({ aof: o.aof ?? false }));
  const keys = keyspace({ prefix: 'pt', partition: 'p0' });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  const logger = createLogger({ service: 'producer', level: 'debug', destination: sink });
  const redis = createRedis({ url: server.url, name: 'test-api', role: 'api' });
  const blocking = createRedis({ url: server.url, name: 'test-results', role: 'blocking', blockingTimeoutMs: 2_000 });
  const worker = createRedis({ url: server.url, name: 'test-worker', role: 'worker' });
  await worker.ping();
  await waitFor('api connection ready', () => redis.status === 'ready');
  await ensureWorkerGroups(worker, keys);
  const transitions = new Transitions(redis, keys, { resultTtlSeconds: 600 });
  const workerTransitions = new Transitions(worker, keys, { resultTtlSeconds: 600 });
  const listener = new ResultsListener({ redis: blocking, keys, logger, blockMs: o.blockMs ?? 1_000 }).start();
  const tenants = new TenantDirectory({
    redis, keys, static: o.staticTenants, authRequired: o.authRequired, cacheMs: 0,
    defaults: { ratePerSecond: 0, burst: 0, maxOpen: 0, webhookSecret: 'harness-webhook-secret-0123456789', ...o.tenantDefaults },
  });
  const dispatcher = o.dispatcher
    ? new ResultsDispatcher({ redis: createRedis({ url: server.url, name: 'test-dispatch', role: 'blocking' }), keys, logger, consumer: 'test-producer', blockMs: 200 }).start()
    : undefined;
  const app = buildApp({
    tenants,
    allowPrivateCallbacks: true,
    ...o.app,
    redis,
    transitions,
    keys,
    logger,
    clock: o.clock ?? Date.now,
    notifier: listener,
    maxWaitSeconds: o.maxWaitSeconds ?? 60,
    bodyLimitBytes: o.bodyLimitBytes,
    instance: 'producer-test',
  });
  await app.ready();
  let closed = false;
  return {
    server, redis, worker, keys, transitions, workerTransitions, listener, app, logs, tenants, dispatcher,
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      await listener.close();
      await dispatcher?.close();
      redis.disconnect();
      worker.disconnect();
      if (!o.server) await server.stop();
    },
  };
}

/** Valid params for every task type. */
export const VALID_PARAMS = {
  recaptcha_v2: { websiteURL: 'https://example.com/login', websiteKey: '6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-' },
  recaptcha_v3: { websiteURL: 'https://example.com/', websiteKey: '6LcR_okUAAAAAPYrPe-HK_0RULO1aZM15ENyM-Mf', pageAction: 'login', minScore: 0.3 },
  hcaptcha: { websiteURL: 'https://example.com/', websiteKey: '10000000-ffff-ffff-ffff-000000000001' },
  turnstile: { websiteURL: 'https://example.com/', websiteKey: '0x4AAAAAAABS7vwvV6VFfMcD' },
  image: { body: Buffer.alloc(2048, 7).toString('base64'), numeric: 1 },
} as const;

/** Base64 of an `bytes`-byte "image" (content is irrelevant to validation). */
export const imageOfBytes = (bytes: number): string => Buffer.alloc(bytes, 0x89).toString('base64');

/** The JSON bodies the API answers with, loosely typed for assertions. */
export interface ApiJson {
  id?: string;
  status?: string;
  type?: string;
  priority?: string;
  attempt?: number;
  createdAt?: string;
  updatedAt?: string;
  completedAt?: string;
  solution?: Record<string, string>;
  error?: { code: string; message: string; field?: string };
  redis?: string;
  checks?: { redis: string; workersGroup: string };
  [key: string]: unknown;
}

/** GET through `app.inject`. */
export async function get(app: FastifyInstance, url: string): Promise<{ status: number; json: ApiJson }> {
  const res = await app.inject({ method: 'GET', url });
  return { status: res.statusCode, json: res.json() as ApiJson };
}

export async function submit(app: FastifyInstance, body: unknown): Promise<{ id: string; status: number; json: Record<string, unknown> }> {
  const res = await app.inject({ method: 'POST', url: '/v1/tasks', payload: body as Record<string, unknown> });
  const json = res.json() as Record<string, unknown>;
  return { id: String(json.id), status: res.statusCode, json };
}

/**
 * Plays a worker: reads the task's lane entry through the `workers` group, claims it
 * and completes it with `outcome`, all through the real Lua transitions.
 */
export async function completeTask(h: Harness, taskId: string, over: Partial<ResultEntry> = {}): Promise<void> {
  let found: { entry: TaskEntry; entryId: string } | undefined;
  for (let i = 0; i < 50 && !found; i++) {
    const reply = await h.worker.xreadgroup('GROUP', WORKERS_GROUP, 'w-test', 'COUNT', 100, 'STREAMS', ...h.keys.lanes, ...h.keys.lanes.map(() => '0'));
    for (const e of flattenReadReply(reply)) {
      if (!e.fields) continue;
      const d = decodeTaskEntry(e.fields);
      if (d.ok && d.value.taskId === taskId) found = { entry: d.value, entryId: e.id };
    }
    if (!found) await h.worker.xreadgroup('GROUP', WORKERS_GROUP, 'w-test', 'COUNT', 100, 'STREAMS', ...h.keys.lanes, ...h.keys.lanes.map(() => '>'));
  }
  if (!found) throw new Error(`task ${taskId} not found in any lane`);
  const { entry, entryId } = found;
  const claim = await h.workerTransitions.claim({ entry, entryId, consumer: 'w-test', now: Date.now() });
  if (!claim.proceed) throw new Error(`claim refused: ${claim.status}`);
  const result: ResultEntry = {
    taskId, outcome: 'solved', tenant: entry.tenant, type: entry.type, attempt: entry.attempt,
    completedAt: Date.now(), solution: entry.type === 'image' ? { text: 'x7k2p' } : { token: `tok-${taskId}` }, trace: {}, ...over,
  };
  const done = await h.workerTransitions.complete({ result, priority: entry.priority, entryId, consumer: 'w-test', now: Date.now() });
  if (!done.published) throw new Error(`complete not published: ${done.status}`);
}
