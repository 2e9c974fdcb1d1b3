/**
 * The projection `task:<id>`: one hash per task, folded from its events by the
 * transitions. Readers (the producer's GET) use `readTask`; only Lua writes it.
 */
import type { Redis } from 'ioredis';
import type { Keyspace, Priority } from './keys';
import type { Solution, TaskType } from './task-types';

export const TASK_STATUSES = ['queued', 'active', 'solved', 'failed', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export const TERMINAL_STATUSES: readonly TaskStatus[] = ['solved', 'failed', 'cancelled'];

export interface TaskView {
  taskId: string;
  type: TaskType;
  tenant: string;
  priority: Priority;
  status: TaskStatus;
  attempt: number;
  createdAt: number;
  updatedAt: number;
  deadline?: number;
  completedAt?: number;
  solution?: Solution;
  errorCode?: string;
  errorMessage?: string;
  provider?: string;
  providerTaskId?: string;
}

const num = (v: string | undefined): number | undefined => (v === undefined || v === '' ? undefined : Number(v));

export function decodeProjection(taskId: string, h: Record<string, string>): TaskView | undefined {
  if (!h.status) return undefined;
  let solution: Solution | undefined;
  if (h.solution) {
    try {
      solution = JSON.parse(h.solution) as Solution;
    } catch {
      solution = undefined;
    }
  }
  return {
    taskId,
    type: h.type as TaskType,
    tenant: h.tenant ?? '',
    priority: (h.priority ?? 'normal') as Priority,
    status: h.status as TaskStatus,
    attempt: num(h.attempt) ?? 1,
    createdAt: num(h.createdAt) ?? 0,
    updatedAt: num(h.updatedAt) ?? 0,
    deadline: num(h.deadline),
    completedAt: num(h.completedAt),
    solution,
    errorCode: h.errorCode || undefined,
    errorMessage: h.errorMessage || undefined,
    provider: h.provider || undefined,
    providerTaskId: h.providerTaskId || undefined,
  };
}

export async function readTask(redis: Redis, keys: Keyspace, taskId: string): Promise<TaskView | undefined> {
  return decodeProjection(taskId, await redis.hgetall(keys.task(taskId)));
}

export const isTerminal = (s: TaskStatus): boolean => TERMINAL_STATUSES.includes(s);
