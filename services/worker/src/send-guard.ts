/**
 * A last check just before a paid request leaves the process.
 *
 * The worker confirms its lease before it submits, but a submit can then wait in the
 * provider HTTP queue (bounded concurrency). A worker frozen in that wait may lose the
 * task to a reclaim, and without this guard its queued submit would still go out and be
 * charged a second time (chaos (b), "freeze during submits"). The guard travels with
 * the submit call down to the HTTP layer as an argument (router → client → wire → http).
 *
 * It used to travel in an AsyncLocalStorage, which spared the plumbing but, on Node 20,
 * turns on async_hooks promise hooks for every promise in the process: ≈ 5 % of the
 * worker's CPU in the throughput bench (promiseInitHook, promiseBeforeHook, _propagate).
 */

export class LeaseLostError extends Error {
  constructor() {
    super('lease lost while the request was queued; not sent');
    this.name = 'LeaseLostError';
  }
}

/** Answers whether the request may still be sent (false: the task was lost meanwhile). */
export type SendGuard = () => Promise<boolean>;

/** Called by the HTTP layer right before sending; throws LeaseLostError when the guard says no. */
export async function checkSendGuard(guard: SendGuard | undefined): Promise<void> {
  if (guard && !(await guard())) throw new LeaseLostError();
}
