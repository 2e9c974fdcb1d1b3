/**
 * How long a task takes to solve, per kind.
 *
 * Each kind has a range [min, max] (ms), multiplied by `scale`. A sample is
 * `min + (max − min) · u^1.6` for uniform u: every sample stays inside the range,
 * the distribution leans towards the fast end with a tail to the max, and for
 * reCAPTCHA v2's 15–60 s the median lands near the ~30 s seen in the field.
 */
import type { LatencyRange, TaskKind } from './kinds';
import type { Random } from './rng';

/** Exponent that skews samples towards the fast end of the range. */
const SKEW = 1.6;

export class LatencyModel {
  constructor(
    private readonly ranges: Record<TaskKind, LatencyRange>,
    private readonly scale: number,
    private readonly random: Random,
  ) {}

  /** The effective (scaled) range for `kind`. */
  range(kind: TaskKind): LatencyRange {
    const r = this.ranges[kind];
    return { minMs: r.minMs * this.scale, maxMs: r.maxMs * this.scale };
  }

  /** One solve time for `kind`, in ms. */
  sample(kind: TaskKind): number {
    const { minMs, maxMs } = this.range(kind);
    return minMs + (maxMs - minMs) * Math.pow(this.random(), SKEW);
  }
}
