/**
 * Validation of what clients send to `/v1/tasks`. Every failure is a `ValidationError`
 * whose `field` names the first offending input, so the 400 tells the client exactly
 * what to fix:
 *
 *   body             not a JSON object
 *   <name>           an unknown top-level field (a typo such as `prioirty` must not vanish)
 *   type             missing or not one of TASK_TYPES
 *   params, params.* the type's params (schema in @solvestream/contracts)
 *   priority         not one of PRIORITIES
 *   wait             `?wait=` not an integer from 0 to MAX_WAIT_SECONDS
 */
import {
  PRIORITIES,
  ValidationError,
  parseTaskSpec,
  type Priority,
  type TaskSpec,
} from '@solvestream/contracts';

export const DEFAULT_PRIORITY: Priority = 'normal';

const SUBMIT_FIELDS = new Set(['type', 'params', 'priority']);

export type SubmitRequest = TaskSpec & { priority: Priority };

/** `POST /v1/tasks` body → a validated task spec and its priority. */
export function parseSubmitBody(body: unknown): SubmitRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError('body', 'must be a JSON object {"type", "params", "priority"?}');
  }
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (!SUBMIT_FIELDS.has(key)) throw new ValidationError(key, 'is not a known field; expected type, params, priority');
  }
  const spec = parseTaskSpec(b.type, b.params);
  return { ...spec, priority: parsePriority(b.priority) };
}

function parsePriority(value: unknown): Priority {
  if (value === undefined) return DEFAULT_PRIORITY;
  if (typeof value !== 'string' || !(PRIORITIES as readonly string[]).includes(value)) {
    throw new ValidationError('priority', `must be one of ${PRIORITIES.join(', ')}`);
  }
  return value as Priority;
}

/**
 * `?wait=SECONDS` → seconds to long-poll (0 when absent). Integers only, from 0 to
 * `maxSeconds`: a client asking for more than the cap is told the cap rather than
 * silently cut short.
 */
export function parseWait(query: unknown, maxSeconds: number): number {
  const raw = (query as Record<string, unknown> | undefined)?.wait;
  if (raw === undefined) return 0;
  if (typeof raw !== 'string' || !/^\d{1,6}$/.test(raw)) {
    throw new ValidationError('wait', `must be an integer number of seconds from 0 to ${maxSeconds}`);
  }
  const seconds = Number(raw);
  if (seconds > maxSeconds) throw new ValidationError('wait', `must be at most ${maxSeconds} seconds`);
  return seconds;
}
