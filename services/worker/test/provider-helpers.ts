/**
 * Simulator admin calls the provider tests need beyond helpers.ts: accounts, per-key
 * counters, task views and the paid-twice check.
 */
import type { TaskSpec } from '@solvestream/contracts';
import type { Sim } from './helpers';

async function admin<T>(sim: Sim, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(sim.url + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

export interface KeyStats {
  submits: number;
  acceptedSubmits: number;
  polls: number;
  polledIds: number;
  multiGets: number;
  balanceChecks: number;
  charges: number;
  reportsGood: number;
  reportsBad: number;
  errors: Record<string, number>;
}

export interface TaskView {
  id: string;
  key: string;
  via: 'v1' | 'json';
  fingerprint: string;
  state: 'solving' | 'solved' | 'unsolvable';
  charged: boolean;
  report?: { kind: 'good' | 'bad' };
  params: Record<string, unknown>;
}

export const setAccount = (sim: Sim, key: string, a: { balance?: number; threads?: number }): Promise<unknown> =>
  admin(sim, 'PUT', `/admin/accounts/${key}`, a);

export const keyStats = (sim: Sim, key: string): Promise<KeyStats> => admin(sim, 'GET', `/admin/stats/${key}`);

export const simTasks = async (sim: Sim, q: string): Promise<TaskView[]> =>
  (await admin<{ tasks: TaskView[] }>(sim, 'GET', `/admin/tasks?q=${encodeURIComponent(q)}&limit=100000`)).tasks;

export const simTask = (sim: Sim, id: string): Promise<TaskView> => admin(sim, 'GET', `/admin/tasks/${id}`);

/** CAPTCHAs this simulator saw more than once (`charged`: only those paid more than once). */
export const duplicates = async (sim: Sim, q: string, charged = false): Promise<number> =>
  (await admin<{ count: number }>(sim, 'GET', `/admin/duplicates?q=${encodeURIComponent(q)}${charged ? '&charged=true' : ''}`)).count;

let seq = 0;
/** A reCAPTCHA v2 task whose pageurl carries `marker` (for `q=` lookups) and is unique. */
export function markedSpec(marker: string): TaskSpec {
  return {
    type: 'recaptcha_v2',
    params: { websiteURL: `https://${marker}.example/p${++seq}-${process.pid}`, websiteKey: '6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-' },
  };
}
