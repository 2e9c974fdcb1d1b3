/**
 * Task ids: 21-character nanoids (`[A-Za-z0-9_-]`, 126 bits of randomness), created
 * by the producer at submit time. Ids are also the tail of a Redis key
 * (`<prefix>:{<partition>}:task:<id>`), so anything that does not look like an id is
 * refused before it gets near a key: a GET for `{p1}x` must not read another slot.
 */
import { createHash } from 'node:crypto';
import { nanoid } from 'nanoid';

export const TASK_ID_LENGTH = 21;

/** Ids this producer (or a future one with longer ids) could have issued. */
const TASK_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

export function newTaskId(): string {
  return nanoid(TASK_ID_LENGTH);
}

/**
 * The id of a task submitted with an idempotency key: derived from tenant and key
 * (SHA-256, base64url, 21 characters: 126 bits, like a nanoid), not random. Why: when
 * Redis loses a task after its worker paid the provider for it, and with it the
 * idempotency record (a wipe inside the archive lag), the client's retry with the same
 * key creates the task again under the SAME id, and takes over the checkpoint the worker
 * kept for it (orphan-checkpoint, submitTask.lua) instead of paying a second time. A key
 * reused after its record expired may find the old task still there (its projection
 * outlives the record by the task's run time): the submit then takes a random id.
 */
export function taskIdForKey(tenant: string, idempotencyKey: string): string {
  return createHash('sha256').update(JSON.stringify([tenant, idempotencyKey])).digest('base64url').slice(0, TASK_ID_LENGTH);
}

export function isTaskId(value: string): boolean {
  return TASK_ID_RE.test(value);
}
