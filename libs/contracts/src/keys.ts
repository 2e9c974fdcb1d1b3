/**
 * The one place that knows Redis key names. Every other module asks a `Keyspace`.
 *
 * Layout (DESIGN.md, "Redis layout"): every key is `<prefix>:{<partition>}:<name>`.
 * The `{partition}` hash tag puts a whole partition in one Redis Cluster slot, so a
 * Lua script may touch any of its keys.
 */
export const PRIORITIES = ['critical', 'high', 'normal', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** Consumer group every worker reads the task lanes through. */
export const WORKERS_GROUP = 'workers';

/** Consumer group the producers read `results` through (stats, open-task release, webhook scheduling). */
export const RESULTS_GROUP = 'producers';

export interface KeyspaceOptions {
  /** Key prefix, default `ss`. Letters, digits, `_`, `-`, `.` only. */
  prefix?: string;
  /** Partition name inside the hash tag, default `p0`. Letters, digits, `_`, `-` only. */
  partition?: string;
}

export interface Keyspace {
  readonly prefix: string;
  readonly partition: string;
  /** Stream of delivery attempts for one priority lane; group `workers`. */
  lane(priority: Priority): string;
  /** All lanes, highest priority first. */
  readonly lanes: readonly string[];
  /** Terminal outcomes, one per task (first wins). */
  readonly results: string;
  readonly deadLetter: string;
  /** Lifecycle log of every task. */
  readonly events: string;
  readonly heartbeats: string;
  readonly control: string;
  /** Operator alerts (provider balance low, breaker open, …); see alerts.ts. */
  readonly alerts: string;
  /** Sorted set of retries waiting for their backoff: member task id, score due time (ms). */
  readonly delayed: string;
  /** Hash task id → the JSON field list of the entry a delayed retry will re-add. */
  readonly delayedEntries: string;
  /** Projection hash of one task. */
  task(taskId: string): string;
  /** Idempotency key → task id. */
  idem(tenant: string, key: string): string;
  // ── client API (producer; issue 5) ──────────────────────────────────────────
  /** String: last numeric (gateway) task id issued in this partition; see admission.ts `allocateNumericId`. */
  readonly idSeq: string;
  /** Hash sha256(api key) hex → tenant id. Written by the tenant CLI; read by producers. */
  readonly apiKeys: string;
  /** Hash tenant id → JSON tenant settings (limits, webhook secret); see tenants.ts. */
  readonly tenants: string;
  /** Hash: the degradation mode in force (`mode`, `since`, `reason`, `by`); see mode.ts. */
  readonly mode: string;
  /** Hash: token bucket of one tenant's submit rate (`tokens`, `ts`). */
  rate(tenant: string): string;
  /** Sorted set of one tenant's unfinished tasks: member task id, score deadline + grace (ms). */
  openTasks(tenant: string): string;
  /** Stream of client reports (reportgood / reportbad) for the workers to forward; see reports.ts. */
  readonly reports: string;
  /** Hash of outcome counters (`solved`, `failed`, `cancelled`, and `t:<tenant>:<outcome>`). */
  readonly stats: string;
  /** Sorted set of webhook deliveries: member task id, score due time (ms). */
  readonly webhooks: string;
  // ── dr-recovery (issue 7) ─────────────────────────────────────────────────────
  /** String: the epoch marker `<archive id>/<generation>` written by dr-recovery; its absence means a wiped Redis. */
  readonly drEpoch: string;
  /** Stream of runtime-config versions (provider keys, order, limits, mode pin), one entry per version; see runtime-config.ts. Never trimmed. */
  readonly config: string;
  /** Stream a restore fills with one history stream's archived entries before swapping it in (`dr:staging:<name>`); see dr-recovery restore.ts. */
  drStaging(stream: string): string;
}

const PREFIX_RE = /^[A-Za-z0-9_.-]{1,32}$/;
const PARTITION_RE = /^[A-Za-z0-9_-]{1,32}$/;

export function keyspace(options: KeyspaceOptions = {}): Keyspace {
  const prefix = options.prefix ?? 'ss';
  const partition = options.partition ?? 'p0';
  if (!PREFIX_RE.test(prefix)) throw new Error(`invalid key prefix ${JSON.stringify(prefix)}: use 1-32 of [A-Za-z0-9_.-]`);
  if (!PARTITION_RE.test(partition)) throw new Error(`invalid partition ${JSON.stringify(partition)}: use 1-32 of [A-Za-z0-9_-]`);
  const base = `${prefix}:{${partition}}:`;
  const lane = (p: Priority): string => `${base}tasks:${p}`;
  return {
    prefix,
    partition,
    lane,
    lanes: PRIORITIES.map(lane),
    results: `${base}results`,
    deadLetter: `${base}dead-letter`,
    events: `${base}events`,
    heartbeats: `${base}heartbeats`,
    control: `${base}control`,
    alerts: `${base}alerts`,
    delayed: `${base}delayed`,
    delayedEntries: `${base}delayed:entries`,
    task: (taskId) => `${base}task:${taskId}`,
    // Tenant and key are caller-supplied: encode them so neither can forge another key.
    idem: (tenant, key) => `${base}idem:${encodeURIComponent(tenant)}:${encodeURIComponent(key)}`,
    idSeq: `${base}id-seq`,
    apiKeys: `${base}api-keys`,
    tenants: `${base}tenants`,
    mode: `${base}mode`,
    rate: (tenant) => `${base}rate:${encodeURIComponent(tenant)}`,
    openTasks: (tenant) => `${base}open:${encodeURIComponent(tenant)}`,
    reports: `${base}reports`,
    stats: `${base}stats`,
    webhooks: `${base}webhooks`,
    drEpoch: `${base}dr:epoch`,
    config: `${base}config`,
    drStaging: (stream) => `${base}dr:staging:${encodeURIComponent(stream)}`,
  };
}

/** The priority a lane key belongs to, or undefined for a key that is not a lane of `ks`. */
export function laneOf(ks: Keyspace, streamKey: string): Priority | undefined {
  return PRIORITIES.find((p) => ks.lane(p) === streamKey);
}
