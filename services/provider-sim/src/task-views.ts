/**
 * Read-only views of tasks for the admin API: one task, filtered lists, and the
 * duplicate report that proves (or disproves) that a client paid twice for one CAPTCHA.
 */
import { fromMicros } from './money';
import type { Task, TaskState, TaskStore } from './tasks';

export interface TaskView {
  id: number;
  key: string;
  via: Task['via'];
  kind: Task['spec']['kind'];
  params: Record<string, unknown>;
  fingerprint: string;
  state: TaskState;
  /** Epoch ms. */
  submittedAt: number;
  readyAt: number;
  finishedAt: number | null;
  polls: number;
  charged: boolean;
  cost: number;
  report: Task['report'] | null;
  /** The token / text once solved. */
  answer: string | null;
}

export function taskView(t: Task): TaskView {
  return {
    id: t.id,
    key: t.key,
    via: t.via,
    kind: t.spec.kind,
    params: t.params,
    fingerprint: t.fingerprint,
    state: t.state,
    submittedAt: t.submittedAt,
    readyAt: t.readyAt,
    finishedAt: t.finishedAt ?? null,
    polls: t.polls,
    charged: t.charged,
    cost: t.charged ? fromMicros(t.price) : 0,
    report: t.report ?? null,
    answer: t.solution?.answer ?? null,
  };
}

export interface TaskFilter {
  key?: string;
  state?: string;
  fingerprint?: string;
  /** Substring that must occur in the task's params (as JSON), e.g. a test's unique marker. */
  q?: string;
}

export function filterTasks(store: TaskStore, f: TaskFilter): Task[] {
  const out: Task[] = [];
  for (const t of store.all()) {
    if (f.key !== undefined && t.key !== f.key) continue;
    if (f.state !== undefined && t.state !== f.state) continue;
    if (f.fingerprint !== undefined && t.fingerprint !== f.fingerprint) continue;
    if (f.q !== undefined && !JSON.stringify(t.params).includes(f.q)) continue;
    out.push(t);
  }
  return out;
}

export interface Duplicate {
  fingerprint: string;
  kind: Task['spec']['kind'];
  /** Tasks submitted with these params. */
  submits: number;
  /** How many of them were charged: more than 1 means the CAPTCHA was paid for twice. */
  charged: number;
  taskIds: number[];
  keys: string[];
  params: Record<string, unknown>;
}

/** Fingerprints submitted more than once among `tasks`, most submitted first. */
export function duplicates(tasks: Iterable<Task>): Duplicate[] {
  const groups = new Map<string, Task[]>();
  for (const t of tasks) {
    const g = groups.get(t.fingerprint);
    if (g) g.push(t);
    else groups.set(t.fingerprint, [t]);
  }
  const out: Duplicate[] = [];
  for (const [fingerprint, group] of groups) {
    if (group.length < 2) continue;
    const first = group[0]!;
    out.push({
      fingerprint,
      kind: first.spec.kind,
      submits: group.length,
      charged: group.filter((t) => t.charged).length,
      taskIds: group.map((t) => t.id),
      keys: [...new Set(group.map((t) => t.key))],
      params: first.params,
    });
  }
  return out.sort((a, b) => b.submits - a.submits);
}
