/**
 * The `alerts` stream: things an operator should hear about (a provider's balance ran
 * low, a provider's circuit breaker opened), appended by any service, read by whatever
 * forwards alerts (supervisor, dashboards). One entry per alert:
 *
 *   v        entry version (`1`)
 *   kind     what happened, kebab-case (`provider-balance-low`; see ALERT_KINDS)
 *   source   who noticed: the instance id (`worker-host-123-ab12`)
 *   message  one human line
 *   at       epoch ms
 *   data     JSON object of details (`{"provider":"sim","balance":0.5,"minBalance":1}`)
 *
 * `kind` is an open set so that another service can add its own without a contracts
 * release; the kinds known today are listed for type-checking at the call sites.
 */
import type { Redis } from 'ioredis';
import { ValidationError } from './errors';
import { ENTRY_VERSION, fieldsToObject, objectToFields, type Decoded } from './codec';
import type { Keyspace } from './keys';

export const ALERT_KINDS = [
  'provider-balance-low',
  'provider-balance-ok',
  'provider-breaker-open',
  'provider-breaker-closed',
] as const;
export type KnownAlertKind = (typeof ALERT_KINDS)[number];

export type AlertData = Record<string, string | number | boolean | null>;

export interface AlertEntry {
  kind: KnownAlertKind | (string & {});
  source: string;
  message: string;
  at: number;
  data: AlertData;
}

/** An alert as read back, with its stream entry id. */
export interface Alert extends AlertEntry {
  id: string;
}

const KIND_RE = /^[a-z0-9]+(-[a-z0-9]+)*$/;

function check(a: AlertEntry): void {
  if (!KIND_RE.test(a.kind) || a.kind.length > 64) throw new ValidationError('kind', `must be kebab-case, 1-64 chars (got ${JSON.stringify(a.kind)})`);
  if (!a.source) throw new ValidationError('source', 'is missing');
  if (!a.message) throw new ValidationError('message', 'is missing');
  if (!Number.isSafeInteger(a.at) || a.at < 0) throw new ValidationError('at', 'is not an integer >= 0');
  if (typeof a.data !== 'object' || a.data === null || Array.isArray(a.data)) throw new ValidationError('data', 'must be an object');
}

/** Alert → XADD field list. Throws a ValidationError naming a bad field. */
export function encodeAlertEntry(a: AlertEntry): string[] {
  check(a);
  return objectToFields({ v: ENTRY_VERSION, kind: a.kind, source: a.source, message: a.message, at: a.at, data: JSON.stringify(a.data) });
}

/** XRANGE/XREAD fields → alert. Never throws. */
export function decodeAlertEntry(id: string, list: readonly string[]): Decoded<Alert> {
  try {
    const f = fieldsToObject(list);
    if (f.v !== ENTRY_VERSION) throw new ValidationError('v', `unsupported entry version ${JSON.stringify(f.v ?? null)}`);
    let data: unknown;
    try {
      data = JSON.parse(f.data ?? '{}');
    } catch {
      throw new ValidationError('data', 'is not valid JSON');
    }
    const a: AlertEntry = { kind: f.kind ?? '', source: f.source ?? '', message: f.message ?? '', at: Number(f.at), data: data as AlertData };
    check(a);
    return { ok: true, value: { id, ...a } };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

export interface AppendAlertOptions {
  /** Approximate cap on the stream (`MAXLEN ~`); 0 = no cap. Default 10,000. */
  maxLen?: number;
}

/** Appends one alert to `keys.alerts`; resolves to its entry id. */
export async function appendAlert(redis: Redis, keys: Keyspace, alert: AlertEntry, o: AppendAlertOptions = {}): Promise<string> {
  const fields = encodeAlertEntry(alert);
  const maxLen = o.maxLen ?? 10_000;
  const id = maxLen > 0
    ? await redis.xadd(keys.alerts, 'MAXLEN', '~', maxLen, '*', ...fields)
    : await redis.xadd(keys.alerts, '*', ...fields);
  if (id === null) throw new Error('XADD to the alerts stream returned no id');
  return id;
}

/** Reads alerts in id order (oldest first), skipping undecodable entries. */
export async function readAlerts(redis: Redis, keys: Keyspace, o: { from?: string; count?: number } = {}): Promise<Alert[]> {
  const raw = (await redis.xrange(keys.alerts, o.from ?? '-', '+', 'COUNT', o.count ?? 1000)) as [string, string[]][];
  const out: Alert[] = [];
  for (const [id, fields] of raw) {
    const d = decodeAlertEntry(id, fields);
    if (d.ok) out.push(d.value);
  }
  return out;
}
