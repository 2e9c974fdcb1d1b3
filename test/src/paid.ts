/**
 * "A provider solve is paid for once", checked from both sides: the simulator's task
 * records (every submit it accepted) and the `provider-submitted` checkpoints in the
 * events stream.
 *
 * Each task carries a unique marker (`m=<run>-<i>&`) in its page URL, or in the
 * comment of an image whose bytes are unique too, so the simulator's records can be
 * attributed to the task they were submitted for.
 *
 * What may legitimately happen, and what may not:
 * - A worker killed after the provider accepted a submit but before the checkpoint
 *   write leaves a submit nobody knows about; the next delivery submits again. Those
 *   submits happened *before* the task's checkpoint: counted as `lostSubmits`.
 * - Once a task's provider id is checkpointed, every later delivery polls that id. A
 *   submit the simulator received *after* the task's first checkpoint (same clock: one
 *   machine) is a second payment for a known solve: `doublePaid`, which must be 0.
 */
import { Buffer } from 'node:buffer';
import type { TaskEvent } from '@solvestream/contracts';
import type { SimTask } from './inspect';
import type { TaskRequest } from './tasks';

/** A short id that keeps one test's markers apart from another's. */
export const runId = (): string => Math.random().toString(36).slice(2, 8);

/** The marker of task `i` of run `run`; the trailing `&` keeps `…-1&` from matching `…-12&`. */
export const marker = (run: string, i: number): string => `m=${run}-${i}&`;

/** Task `i` of a run, every type in turn, carrying its marker (and a unique image). */
export function markedTask(run: string, i: number): TaskRequest {
  const url = `https://shop${i % 97}.example.com/login?${marker(run, i)}z=1`;
  switch (i % 5) {
    case 0: return { type: 'recaptcha_v2', params: { websiteURL: url, websiteKey: '6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-' } };
    case 1: return { type: 'recaptcha_v3', params: { websiteURL: url, websiteKey: '6LdyC2cUAAAAACGuDKpXeDorzUDWXmdqeg-xy696', pageAction: 'login', minScore: 0.3 } };
    case 2: return { type: 'hcaptcha', params: { websiteURL: url, websiteKey: 'a5f74b19-9e45-40e0-b45d-47ff91b7a6c2' } };
    case 3: return { type: 'turnstile', params: { websiteURL: url, websiteKey: '0x4AAAAAAABS7vwvV6VFfMcD' } };
    default: {
      const png = Buffer.alloc(300, 0x42);
      png.write(`${run}:${i}`, 0, 'latin1'); // unique bytes: a unique fingerprint at the simulator
      return { type: 'image', params: { body: png.toString('base64'), comment: marker(run, i) } };
    }
  }
}

/** The task index a simulator record belongs to, from the marker in its params. */
export function indexOf(run: string, params: Record<string, unknown>): number | undefined {
  const m = new RegExp(`m=${run}-(\\d+)&`).exec(JSON.stringify(params));
  return m ? Number(m[1]) : undefined;
}

export interface PaidAudit {
  /** Submits the simulator accepted for this run's tasks. */
  submits: number;
  charges: number;
  /** Tasks with at least one `provider-submitted` checkpoint. */
  checkpointed: number;
  /** Tasks the simulator saw more than once. */
  submittedTwice: number;
  /** Submits before the task's checkpoint that the checkpoint does not name (kill in the window). */
  lostSubmits: number;
  /** When each of the `lostSubmits` reached the provider, epoch ms (to match them against kills). */
  lostSubmitTimes: number[];
  /** Tasks the provider accepted that have no checkpoint at all (a lost checkpoint write, or a failure right after submit). */
  neverCheckpointed: string[];
  /** Submits after the task's checkpoint: paid twice for a known solve. Must be 0. */
  doublePaid: number;
  /** Every task index the simulator saw more than once, with its submits (for classifying them). */
  twice: { index: number; submits: { id: number; at: number }[] }[];
  /** Up to 10 offending tasks, for the failure message. */
  offenders: { index: number; taskId: string; checkpoints: string[]; submits: { id: number; at: number }[] }[];
}

/**
 * @param ids      task id of task index i (from the 202 of its POST)
 * @param sim      the simulator's records for this run (`simTasks(simUrl, 'm=<run>-')`)
 * @param events   the whole events stream
 */
export function auditSubmits(run: string, ids: readonly (string | undefined)[], sim: readonly SimTask[], events: readonly TaskEvent[]): PaidAudit {
  const byIndex = new Map<number, SimTask[]>();
  for (const t of sim) {
    const i = indexOf(run, t.params);
    if (i === undefined) continue;
    byIndex.set(i, [...(byIndex.get(i) ?? []), t]);
  }
  const checkpoints = new Map<string, TaskEvent[]>();
  for (const e of events) {
    if (e.event !== 'provider-submitted') continue;
    checkpoints.set(e.taskId, [...(checkpoints.get(e.taskId) ?? []), e]);
  }
  const a: PaidAudit = { submits: sim.length, charges: sim.filter((t) => t.charged).length, checkpointed: 0, submittedTwice: 0, lostSubmits: 0, lostSubmitTimes: [], neverCheckpointed: [], doublePaid: 0, twice: [], offenders: [] };
  ids.forEach((taskId, index) => {
    if (taskId === undefined) return;
    const submits = byIndex.get(index) ?? [];
    if (submits.length > 1) {
      a.submittedTwice++;
      a.twice.push({ index, submits: submits.map((x) => ({ id: x.id, at: x.submittedAt })) });
    }
    const cps = checkpoints.get(taskId) ?? [];
    if (cps.length === 0) {
      a.lostSubmits += submits.length;
      a.lostSubmitTimes.push(...submits.map((x) => x.submittedAt));
      if (submits.length > 0) a.neverCheckpointed.push(taskId);
      return;
    }
    a.checkpointed++;
    const firstAt = Math.min(...cps.map((c) => c.at));
    const named = new Set(cps.map((c) => c.data.providerTaskId));
    let after = 0;
    for (const s of submits) {
      if (named.has(String(s.id)) && s.submittedAt <= firstAt) continue;
      if (s.submittedAt > firstAt) {
        after++;
      } else {
        a.lostSubmits++;
        a.lostSubmitTimes.push(s.submittedAt);
      }
    }
    // Two different checkpointed ids also mean a second accepted submit for a known task.
    if (named.size > 1) after = Math.max(after, named.size - 1);
    if (after > 0) {
      a.doublePaid += after;
      if (a.offenders.length < 10) {
        a.offenders.push({ index, taskId, checkpoints: cps.map((c) => `${c.data.providerTaskId}@${c.at} by ${c.data.consumer}`), submits: submits.map((s) => ({ id: s.id, at: s.submittedAt })) });
      }
    }
  });
  return a;
}
