/**
 * Task fixtures and small HTTP helpers for system tests. Each task carries a unique
 * marker in its page URL so the simulator's per-params records can prove that no
 * CAPTCHA was submitted (paid for) twice.
 */
import { Buffer } from 'node:buffer';

export type TaskRequest = { type: string; params: Record<string, unknown>; priority?: string; idempotencyKey?: string; callbackUrl?: string };

const PNG = Buffer.alloc(300, 0x42).toString('base64');

export function makeTask(i: number): TaskRequest {
  const url = `https://shop${i}.example.com/login?n=${i}`;
  switch (i % 5) {
    case 0: return { type: 'recaptcha_v2', params: { websiteURL: url, websiteKey: '6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-' } };
    case 1: return { type: 'recaptcha_v3', params: { websiteURL: url, websiteKey: '6LdyC2cUAAAAACGuDKpXeDorzUDWXmdqeg-xy696', pageAction: 'login', minScore: 0.3 } };
    case 2: return { type: 'hcaptcha', params: { websiteURL: url, websiteKey: 'a5f74b19-9e45-40e0-b45d-47ff91b7a6c2' } };
    case 3: return { type: 'turnstile', params: { websiteURL: url, websiteKey: '0x4AAAAAAABS7vwvV6VFfMcD' } };
    default: return { type: 'image', params: { body: PNG, comment: `n=${i}` } };
  }
}

export async function submit(apiUrl: string, task: TaskRequest): Promise<string> {
  const res = await fetch(`${apiUrl}/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(task) });
  if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

export interface TaskState { id: string; status: string; solution?: { token?: string; text?: string }; error?: { code: string; message?: string }; attempt?: number }

/** `replayed`: the idempotency key was already used; `id` is the task it created then. */
export type PostOutcome = { ok: true; id: string; replayed: boolean } | { ok: false; status: number; body: string };

/**
 * POSTs a task and reports the answer instead of throwing (status 0: no HTTP answer at
 * all). A 200 with `idempotent-replayed` (a known idempotency key) counts as accepted.
 */
export async function postTask(apiUrl: string, task: TaskRequest): Promise<PostOutcome> {
  try {
    const res = await fetch(`${apiUrl}/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(task) });
    const replayed = res.status === 200 && res.headers.get('idempotent-replayed') === 'true';
    if (res.status === 202 || replayed) return { ok: true, id: ((await res.json()) as { id: string }).id, replayed };
    return { ok: false, status: res.status, body: await res.text() };
  } catch (err) {
    return { ok: false, status: 0, body: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * Submits `tasks` in batches of `batch` (each batch at once), starting a batch every
 * `everyMs`, so that load keeps arriving while a test breaks things. Resolves with each
 * task's outcome, in order.
 */
export async function submitPaced(apiUrl: string, tasks: readonly TaskRequest[], o: { batch: number; everyMs: number }): Promise<PostOutcome[]> {
  const out: PostOutcome[] = new Array(tasks.length);
  const batches: Promise<void>[] = [];
  for (let start = 0; start < tasks.length; start += o.batch) {
    const t0 = Date.now();
    const slice = tasks.slice(start, start + o.batch);
    batches.push(Promise.all(slice.map(async (t, k) => { out[start + k] = await postTask(apiUrl, t); })).then(() => undefined));
    const wait = o.everyMs - (Date.now() - t0);
    if (start + o.batch < tasks.length && wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  await Promise.all(batches);
  return out;
}

/** Long-polls until the task is terminal or `timeoutMs` passes. */
export async function awaitTask(apiUrl: string, id: string, timeoutMs = 60_000): Promise<TaskState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${apiUrl}/v1/tasks/${id}?wait=10`);
      if (res.status === 200) {
        const body = (await res.json()) as TaskState;
        if (['solved', 'failed', 'cancelled'].includes(body.status)) return body;
      }
    } catch {
      /* producer restarting or Redis down: keep asking */
    }
    if (Date.now() > deadline) throw new Error(`task ${id} not finished within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** `awaitTask` for every id, 200 long-polls at a time. */
export function awaitAll(apiUrl: string, ids: readonly string[], timeoutMs = 120_000): Promise<TaskState[]> {
  return mapLimit(ids, 200, (id) => awaitTask(apiUrl, id, timeoutMs));
}

/** Runs `fn` over `items` with at most `limit` at once. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  }));
  return out;
}
