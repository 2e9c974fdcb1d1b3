/**
 * Group commit of per-task transitions: the worker's checkpoints and completes, the
 * producer's submits.
 *
 * Contract: `run(input)` resolves or rejects exactly as one call of the transition would.
 * Calls made in the same event-loop turn go to Redis together, in ONE batched script call
 * (checkpointTask.lua, completeTask.lua and submitTask.lua take a batch; each task in it
 * is still its own atomic step), sent on the next turn (setImmediate). Nothing waits for
 * a batch to fill: a lone call goes out one turn later, a few microseconds under load;
 * and a batch in flight does not hold the next one back.
 *
 * A call that fails (Redis unreachable, a script error) rejects every caller of its turn,
 * as a failed call per task would have rejected each.
 *
 * Why: a batched poll (res.php?ids=…) answers up to 100 tasks at once and their
 * completes all start in the same turn; submits answered in the same turn share their
 * checkpoint call the same way; HTTP requests read in the same turn share their submit
 * call. One script call per task cost both the client (a command object, its encoding
 * and its reply per task) and Redis (a script invocation per task) more than the writes
 * themselves; the numbers are in docs/benchmarks.md.
 */
export class WriteBatch<I, O> {
  private queue: { input: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;

  /** `send` answers one O or Error per input, in order (Transitions.completeBatch, checkpointBatch, submitBatch). */
  constructor(private readonly send: (inputs: I[]) => Promise<(O | Error)[]>) {}

  run = (input: I): Promise<O> =>
    new Promise<O>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flush);
      }
    });

  private readonly flush = (): void => {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    // Through a promise, so that even a `send` that throws at once rejects its callers
    // instead of escaping setImmediate as an uncaught exception.
    Promise.resolve().then(() => this.send(batch.map((b) => b.input))).then(
      (outs) => batch.forEach((b, i) => {
        const o = outs[i];
        if (o instanceof Error) b.reject(o);
        else if (o === undefined) b.reject(new Error(`batched write answered ${outs.length} of ${batch.length}`));
        else b.resolve(o);
      }),
      (err: unknown) => batch.forEach((b) => b.reject(err)),
    );
  };
}
