/**
 * Injected delays that can all be cut short: closing the simulator must not wait
 * for a request that a `slow` fault parks for minutes.
 */
export class Delays {
  private readonly pending = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private cancelled = false;

  /** Resolves after `ms`, or at once when {@link cancelAll} is (or was) called. */
  wait(ms: number): Promise<void> {
    if (ms <= 0 || this.cancelled) return Promise.resolve();
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.pending.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      this.pending.add(entry);
    });
  }

  /** Ends every pending delay now and every later one at once (used when closing). */
  cancelAll(): void {
    this.cancelled = true;
    for (const entry of this.pending) {
      clearTimeout(entry.timer);
      entry.resolve();
    }
    this.pending.clear();
  }
}
