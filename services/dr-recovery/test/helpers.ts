/** Shared fixtures: real tasks driven through the real transitions. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { ensureWorkerGroups, type Keyspace, type ResultEntry, type TaskEntry, Transitions } from '@solvestream/contracts';
import { createLogger } from '@solvestream/core';

export const tempDir = (): string => mkdtempSync(join(tmpdir(), 'ss-dr-'));
export const silent = createLogger({ service: 'dr-test', level: 'silent' });

export const entry = (taskId: string, over: Partial<TaskEntry> = {}): TaskEntry => ({
  taskId, type: 'turnstile', params: { websiteURL: 'https://example.com', websiteKey: '0x4AAAAAAAB' },
  tenant: 'acme', priority: 'normal', attempt: 1, submittedAt: Date.now(), deadline: Date.now() + 3_600_000, trace: {}, ...over,
});

export const result = (taskId: string, over: Partial<ResultEntry> = {}): ResultEntry => ({
  taskId, outcome: 'solved', tenant: 'acme', type: 'turnstile', attempt: 1, completedAt: Date.now(),
  solution: { token: `tok-${taskId}` }, provider: 'sim', providerTaskId: `p-${taskId}`, trace: {}, ...over,
});

/**
 * Drives a small mixed workload: `done-*` solved, `flight-*` claimed + checkpointed (in
 * flight), `queued-*` only submitted, `cancel-*` cancelled. Returns the task ids by kind.
 */
export async function workload(redis: Redis, keys: Keyspace, n = 3, tag = ''): Promise<{ done: string[]; flight: string[]; queued: string[]; cancelled: string[] }> {
  await ensureWorkerGroups(redis, keys);
  const tr = new Transitions(redis, keys);
  const ids = { done: [] as string[], flight: [] as string[], queued: [] as string[], cancelled: [] as string[] };
  for (let i = 0; i < n; i++) {
    for (const kind of ['done', 'flight', 'queued', 'cancel'] as const) {
      const id = `${kind}-${tag}${i}`;
      const e = entry(id, { priority: i % 2 ? 'high' : 'normal' });
      const sub = await tr.submit({ entry: e, now: Date.now() });
      if (!sub.created) throw new Error('not created');
      if (kind === 'queued') { ids.queued.push(id); continue; }
      if (kind === 'cancel') { await tr.cancel({ taskId: id, tenant: '', now: Date.now(), reason: 'test' }); ids.cancelled.push(id); continue; }
      await redis.xreadgroup('GROUP', 'workers', 'w1', 'COUNT', 100, 'STREAMS', keys.lane(e.priority), '>');
      await tr.claim({ entry: e, entryId: sub.entryId, consumer: 'w1', now: Date.now() });
      await tr.checkpoint({ taskId: id, provider: 'sim', providerTaskId: `p-${id}`, attempt: 1, consumer: 'w1', now: Date.now() });
      if (kind === 'flight') { ids.flight.push(id); continue; }
      await tr.complete({ result: result(id), priority: e.priority, entryId: sub.entryId, consumer: 'w1', now: Date.now() });
      ids.done.push(id);
    }
  }
  return ids;
}

/** Every key of the server with its content (streams as entries, hashes as objects), for equality checks. */
export async function dump(redis: Redis, skip: (key: string) => boolean = () => false): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of (await redis.keys('*')).sort()) {
    if (skip(key)) continue;
    const type = await redis.type(key);
    if (type === 'stream') out[key] = { entries: await redis.xrange(key, '-', '+'), groups: await redis.xinfo('GROUPS', key).catch(() => []) };
    else if (type === 'hash') out[key] = await redis.hgetall(key);
    else if (type === 'string') out[key] = await redis.get(key);
    else if (type === 'zset') out[key] = await redis.zrange(key, '0', '-1', 'WITHSCORES');
    else out[key] = type;
  }
  return out;
}
