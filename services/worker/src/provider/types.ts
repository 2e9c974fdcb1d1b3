/**
 * The one interface every provider protocol implements (v1 `in.php`/`res.php`, the JSON
 * task API). `ProviderClient` wraps a `Wire` with counters and error containment; the
 * router, poller and solve path only ever see `ProviderClient`.
 */
import type { Solution, TaskType, TaskSpec } from '@solvestream/contracts';
import type { ProviderError } from './errors';
import type { SendGuard } from '../send-guard';

export type ProviderProtocol = 'v1' | 'json';

/** The state of one provider task id after a poll. */
export type PollSlot =
  | { state: 'pending' }
  | { state: 'ready'; solution: Solution }
  | { state: 'error'; error: ProviderError };

/** A report on a solved task: the answer worked (`good`) or was rejected by the site (`bad`). */
export type ReportVerdict = 'good' | 'bad';

export interface Wire {
  /** Whether `getMany` is available (v1 `action=get&ids=`; never on the JSON API). */
  readonly multiGet: boolean;
  /**
   * Submits a task; resolves to the provider's task id (all digits). Errors throw.
   * `guard` is asked right before the request leaves (send-guard.ts).
   */
  submit(spec: TaskSpec, guard?: SendGuard): Promise<string>;
  /** Polls one id. Protocol answers come back as slots; transport failures throw. */
  getOne(id: string, type: TaskType): Promise<PollSlot>;
  /** Polls many ids in one request, one slot per id. Transport failures throw. */
  getMany(ids: readonly string[], types: ReadonlyMap<string, TaskType>): Promise<Map<string, PollSlot>>;
  /** The account balance in the provider's currency. */
  balance(): Promise<number>;
  /** Reports a solved task as good or bad. Refusals (too late, duplicate) throw. */
  report(id: string, type: TaskType, verdict: ReportVerdict): Promise<void>;
}
