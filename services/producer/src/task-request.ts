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
 *   idempotencyKey   not 1-255 printable ASCII characters (also the `Idempotency-Key` header)
 *   callbackUrl      not an http(s) URL, or a private host while those are not allowed
 *   wait             `?wait=` not an integer from 0 to MAX_WAIT_SECONDS
 */
import { isIP } from 'node:net';
import {
  PRIORITIES,
  ValidationError,
  parseTaskSpec,
  type Priority,
  type TaskSpec,
} from '@solvestream/contracts';

export const DEFAULT_PRIORITY: Priority = 'normal';

const SUBMIT_FIELDS = new Set(['type', 'params', 'priority', 'idempotencyKey', 'callbackUrl']);

export type SubmitRequest = TaskSpec & { priority: Priority; idempotencyKey?: string; callbackUrl?: string };

export interface SubmitParseOptions {
  /** The `Idempotency-Key` header, if sent. */
  idempotencyHeader?: string | string[];
  /** Accept callback hosts that are loopback/private IP literals or `localhost`. */
  allowPrivateCallbacks: boolean;
}

/** `POST /v1/tasks` body → a validated task spec, its priority, idempotency key and callback. */
export function parseSubmitBody(body: unknown, o: SubmitParseOptions = { allowPrivateCallbacks: false }): SubmitRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError('body', 'must be a JSON object {"type", "params", "priority"?, "idempotencyKey"?, "callbackUrl"?}');
  }
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (!SUBMIT_FIELDS.has(key)) throw new ValidationError(key, `is not a known field; expected ${[...SUBMIT_FIELDS].join(', ')}`);
  }
  const spec = parseTaskSpec(b.type, b.params);
  const out: SubmitRequest = { ...spec, priority: parsePriority(b.priority) };
  const idem = parseIdempotencyKey(b.idempotencyKey, o.idempotencyHeader);
  if (idem !== undefined) out.idempotencyKey = idem;
  if (b.callbackUrl !== undefined) out.callbackUrl = parseCallbackUrl(b.callbackUrl, 'callbackUrl', o.allowPrivateCallbacks);
  return out;
}

export function parsePriority(value: unknown, field = 'priority'): Priority {
  if (value === undefined) return DEFAULT_PRIORITY;
  if (typeof value !== 'string' || !(PRIORITIES as readonly string[]).includes(value)) {
    throw new ValidationError(field, `must be one of ${PRIORITIES.join(', ')}`);
  }
  return value as Priority;
}

const IDEM_RE = /^[\x21-\x7e]{1,255}$/;

function parseIdempotencyKey(bodyValue: unknown, header: string | string[] | undefined): string | undefined {
  if (Array.isArray(header)) throw new ValidationError('idempotency-key', 'send one Idempotency-Key header');
  if (bodyValue !== undefined && (typeof bodyValue !== 'string' || !IDEM_RE.test(bodyValue))) {
    throw new ValidationError('idempotencyKey', 'must be 1-255 printable ASCII characters without spaces');
  }
  if (header !== undefined && !IDEM_RE.test(header)) {
    throw new ValidationError('idempotency-key', 'must be 1-255 printable ASCII characters without spaces');
  }
  if (bodyValue !== undefined && header !== undefined && bodyValue !== header) {
    throw new ValidationError('idempotencyKey', 'differs from the Idempotency-Key header; send one of them');
  }
  return (bodyValue as string | undefined) ?? header;
}

/** True for hosts a webhook must not reach from inside the deployment (literal IPs and localhost only; no DNS). */
export function isPrivateHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  const v = isIP(h);
  if (v === 4) {
    const [a = 0, b = 0] = h.split('.').map(Number);
    return a === 10 || a === 127 || a === 0 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127);
  }
  if (v === 6) return h === '::1' || h === '::' || h.startsWith('fc') || h.startsWith('fd') || h.startsWith('fe80') || h.startsWith('::ffff:');
  return false;
}

export function parseCallbackUrl(value: unknown, field: string, allowPrivate: boolean): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) throw new ValidationError(field, 'must be an http(s) URL of at most 2048 characters');
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new ValidationError(field, 'is not a valid URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ValidationError(field, 'must be an http or https URL');
  if (u.username || u.password) throw new ValidationError(field, 'must not carry credentials');
  if (!allowPrivate && isPrivateHost(u.hostname)) throw new ValidationError(field, 'must not point at a loopback or private address');
  return u.toString();
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
