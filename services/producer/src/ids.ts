/**
 * Task ids: 21-character nanoids (`[A-Za-z0-9_-]`, 126 bits of randomness), created
 * by the producer at submit time. Ids are also the tail of a Redis key
 * (`<prefix>:{<partition>}:task:<id>`), so anything that does not look like an id is
 * refused before it gets near a key: a GET for `{p1}x` must not read another slot.
 */
import { nanoid } from 'nanoid';

export const TASK_ID_LENGTH = 21;

/** Ids this producer (or a future one with longer ids) could have issued. */
const TASK_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

export function newTaskId(): string {
  return nanoid(TASK_ID_LENGTH);
}

export function isTaskId(value: string): boolean {
  return TASK_ID_RE.test(value);
}
