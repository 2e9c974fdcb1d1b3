/**
 * A last check just before a paid request leaves the process.
 *
 * The worker confirms its lease before it submits, but a submit can then wait in the
 * provider HTTP queue (bounded concurrency). A worker frozen in that wait may lose the
 * task to a reclaim, and without this guard its queued submit would still go out and be
 * charged a second time (chaos (b), "freeze during submits"). The guard travels with
 * the async context of the task, so the HTTP layer needs no task-specific parameters.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export class LeaseLostError extends Error {
  constructor() {
    super('lease lost while the request was queued; not sent');
    this.name = 'LeaseLostError';
  }
}

type Guard = () => Promise<boolean>;
const store = new AsyncLocalStorage<Guard>();

/** Runs `fn` with `guard` as the send guard of every request it makes. */
export function withSendGuard<T>(guard: Guard, fn: () => Promise<T>): Promise<T> {
  return store.run(guard, fn);
}

/** Called by the HTTP layer right before sending; throws LeaseLostError when the guard says no. */
export async function checkSendGuard(): Promise<void> {
  const guard = store.getStore();
  if (guard && !(await guard())) throw new LeaseLostError();
}
