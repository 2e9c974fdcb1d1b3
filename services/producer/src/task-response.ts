/**
 * What clients see of a task. The projection (`TaskView`, read from `task:<id>`)
 * carries internal fields too (tenant, provider, provider task id, the worker that
 * holds it); only the public ones below leave the service.
 *
 * Timestamps are ISO-8601 UTC strings (`2026-01-01T12:00:00.000Z`); the store keeps
 * epoch milliseconds.
 */
import type { Priority, Solution, TaskStatus, TaskType } from '@solvestream/contracts';
import type { ClientTask } from './task-reader';

export interface TaskResource {
  id: string;
  type: TaskType;
  status: TaskStatus;
  priority: Priority;
  /** Delivery attempt: 1 for the first, higher after a retry or a reclaim. */
  attempt: number;
  createdAt: string;
  updatedAt: string;
  /** Set once the task is solved or failed. */
  completedAt?: string;
  /** `{ token }` for token types (and `userAgent`/`respKey` when the provider sends them), `{ text }` for images. */
  solution?: Solution;
  /** Why a task failed: the provider's or the pipeline's error code. */
  error?: { code: string; message: string };
  /** Present when the task was submitted with a `callbackUrl`. */
  webhook?: { url: string; status: 'pending' | 'delivered' | 'retrying' | 'failed'; attempts: number };
}

/** The 202 answer to a submit. */
export interface SubmittedResource {
  id: string;
  status: 'queued';
  type: TaskType;
  priority: Priority;
  createdAt: string;
}

export const iso = (ms: number): string => new Date(ms).toISOString();

export function presentTask(view: ClientTask): TaskResource {
  const out: TaskResource = {
    id: view.taskId,
    type: view.type,
    status: view.status,
    priority: view.priority,
    attempt: view.attempt,
    createdAt: iso(view.createdAt),
    updatedAt: iso(view.updatedAt),
  };
  if (view.completedAt !== undefined) out.completedAt = iso(view.completedAt);
  if (view.solution) out.solution = view.solution;
  if (view.status === 'failed' || view.errorCode) {
    out.error = { code: view.errorCode ?? 'ERROR_UNKNOWN', message: view.errorMessage ?? view.errorCode ?? 'the task failed' };
  }
  if (view.callbackUrl) {
    const status = (view.webhookStatus ?? 'pending') as NonNullable<TaskResource['webhook']>['status'];
    out.webhook = { url: view.callbackUrl, status, attempts: view.webhookAttempts ?? 0 };
  }
  return out;
}

/** Location of a task resource, relative to the API root. */
export const taskLocation = (id: string): string => `/v1/tasks/${id}`;
