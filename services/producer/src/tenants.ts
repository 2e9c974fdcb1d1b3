/**
 * Tenants and their API keys.
 *
 * A tenant is an id plus its settings (limits, default gateway priority, webhook
 * secret). Clients authenticate with an API key: `Authorization: Bearer <key>` on REST,
 * `key` (v1) or `clientKey` (JSON API) on the gateway. Keys are never stored, only
 * their sha256 (hex), in two places that are merged:
 *
 *   - static: `TENANTS_FILE` / `TENANTS_JSON`, read once at start-up:
 *       {"tenants":[{"id":"acme","keys":["sha256:<hex>"],"ratePerSecond":20,"maxOpen":500}]}
 *   - Redis:  `api-keys` hash sha256 → tenant id, `tenants` hash id → settings JSON,
 *             written by the `ss-tenants` CLI (add, key, revoke, set, remove, list).
 *
 * Open mode: while neither place holds a single key (and AUTH_REQUIRED is off) every
 * request is tenant `default`, so local runs and tests work without setup. The first
 * key added (e.g. `ss-tenants add acme`) closes the API within TENANT_CACHE_MS.
 *
 * Lookups from Redis are cached for `cacheMs` (hits and misses), so a revoked key
 * stops working within that time. When Redis fails, the last answer seen is reused
 * however old (a Redis outage must not turn a client's mistake into a 5xx, and reusing
 * "closed" or a known key grants nothing new); with no answer at all the lookup throws
 * and the caller answers "unavailable", never "open".
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { PRIORITIES, type Keyspace, type Priority } from '@solvestream/contracts';

export const DEFAULT_TENANT = 'default';

export interface Tenant {
  id: string;
  /** Submits per second (token bucket); 0 = unlimited. */
  ratePerSecond: number;
  /** Bucket size; 0 = two seconds' worth of the rate. */
  burst: number;
  /** Unfinished tasks at most; 0 = unlimited. */
  maxOpen: number;
  /** Priority of gateway submits that do not name one. */
  gatewayPriority: Priority;
  /** HMAC-SHA256 key of this tenant's webhooks. */
  webhookSecret?: string;
}

/** Settings as stored (static file or Redis); every field optional except the id. */
export type TenantSettings = Partial<Omit<Tenant, 'id'>>;

export interface TenantDefaults {
  ratePerSecond: number;
  burst: number;
  maxOpen: number;
  webhookSecret?: string;
}

export const TENANT_ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;
/** What an API key may look like: the CLI issues 32 hex chars (the 2captcha key format). */
export const API_KEY_RE = /^[A-Za-z0-9_-]{16,128}$/;

export const hashKey = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');
export const newApiKey = (): string => randomBytes(16).toString('hex');
export const newWebhookSecret = (): string => randomBytes(24).toString('base64url');
/** Shown instead of a key or hash: enough to tell keys apart, useless to an attacker. */
export const fingerprint = (hash: string): string => hash.slice(0, 12);

export class TenantConfigError extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'TenantConfigError';
  }
}

function num(v: unknown, field: string, integer: boolean): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) {
    throw new TenantConfigError(field, `must be a ${integer ? 'whole ' : ''}number >= 0`);
  }
  return v;
}

/** Validates stored settings (`field` prefixes error messages). Unknown fields are refused. */
export function parseSettings(raw: unknown, field: string): TenantSettings {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new TenantConfigError(field, 'must be an object');
  const r = raw as Record<string, unknown>;
  const known = new Set(['id', 'keys', 'ratePerSecond', 'burst', 'maxOpen', 'gatewayPriority', 'webhookSecret']);
  for (const k of Object.keys(r)) if (!known.has(k)) throw new TenantConfigError(`${field}.${k}`, 'is not a known setting');
  const out: TenantSettings = {};
  const rate = num(r.ratePerSecond, `${field}.ratePerSecond`, false);
  if (rate !== undefined) out.ratePerSecond = rate;
  const burst = num(r.burst, `${field}.burst`, true);
  if (burst !== undefined) out.burst = burst;
  const maxOpen = num(r.maxOpen, `${field}.maxOpen`, true);
  if (maxOpen !== undefined) out.maxOpen = maxOpen;
  if (r.gatewayPriority !== undefined) {
    if (!(PRIORITIES as readonly unknown[]).includes(r.gatewayPriority)) throw new TenantConfigError(`${field}.gatewayPriority`, `must be one of ${PRIORITIES.join(', ')}`);
    out.gatewayPriority = r.gatewayPriority as Priority;
  }
  if (r.webhookSecret !== undefined) {
    if (typeof r.webhookSecret !== 'string' || r.webhookSecret.length < 16) throw new TenantConfigError(`${field}.webhookSecret`, 'must be a string of at least 16 characters');
    out.webhookSecret = r.webhookSecret;
  }
  return out;
}

export interface StaticTenants {
  /** sha256 hex → tenant id */
  keys: Map<string, string>;
  settings: Map<string, TenantSettings>;
}

/** Parses the TENANTS_FILE / TENANTS_JSON document. `source` names it in errors. */
export function parseStaticTenants(text: string, source: string, into: StaticTenants = { keys: new Map(), settings: new Map() }): StaticTenants {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new TenantConfigError(source, 'is not valid JSON');
  }
  const list = (doc as { tenants?: unknown } | null)?.tenants;
  if (!Array.isArray(list)) throw new TenantConfigError(`${source}.tenants`, 'must be an array');
  list.forEach((t: unknown, i) => {
    const field = `${source}.tenants[${i}]`;
    const id = (t as { id?: unknown } | null)?.id;
    if (typeof id !== 'string' || !TENANT_ID_RE.test(id)) throw new TenantConfigError(`${field}.id`, 'must be 1-64 of [A-Za-z0-9_.-]');
    into.settings.set(id, parseSettings(t, field));
    const keys = (t as { keys?: unknown }).keys ?? [];
    if (!Array.isArray(keys)) throw new TenantConfigError(`${field}.keys`, 'must be an array of "sha256:<hex>"');
    keys.forEach((k: unknown, j) => {
      const hex = typeof k === 'string' ? k.replace(/^sha256:/, '').toLowerCase() : '';
      if (!/^[0-9a-f]{64}$/.test(hex)) throw new TenantConfigError(`${field}.keys[${j}]`, 'must be "sha256:<64 hex>" (ss-tenants hash <key> prints it); never the key itself');
      into.keys.set(hex, id);
    });
  });
  return into;
}

interface Cached<T> {
  value: T;
  until: number;
}

export interface TenantDirectoryOptions {
  redis: Redis;
  keys: Keyspace;
  defaults: TenantDefaults;
  static?: StaticTenants;
  /** Refuse everything while no tenant exists instead of opening the API. */
  authRequired?: boolean;
  /** Cache of Redis lookups, ms. Default 5,000. */
  cacheMs?: number;
  clock?: () => number;
}

export type AccessMode = 'open' | 'closed';

export class TenantDirectory {
  private readonly o: TenantDirectoryOptions;
  private readonly cacheMs: number;
  private readonly clock: () => number;
  private readonly byHash = new Map<string, Cached<string | undefined>>();
  private readonly settings = new Map<string, Cached<TenantSettings | undefined>>();
  private modeCache: Cached<AccessMode> | undefined;

  constructor(o: TenantDirectoryOptions) {
    this.o = o;
    this.cacheMs = o.cacheMs ?? 5_000;
    this.clock = o.clock ?? Date.now;
  }

  /** `open` while no key exists anywhere (and auth is not required). Throws when Redis cannot say. */
  async accessMode(): Promise<AccessMode> {
    if (this.o.authRequired || (this.o.static?.keys.size ?? 0) > 0) return 'closed';
    const now = this.clock();
    if (this.modeCache && this.modeCache.until > now) return this.modeCache.value;
    let n: number;
    try {
      n = await this.o.redis.hlen(this.o.keys.apiKeys);
    } catch (err) {
      if (this.modeCache) return this.modeCache.value;
      throw err;
    }
    const value: AccessMode = n > 0 ? 'closed' : 'open';
    this.modeCache = { value, until: now + this.cacheMs };
    return value;
  }

  /** The tenant that owns `apiKey`, or undefined. Throws when Redis cannot say. */
  async authenticate(apiKey: string): Promise<Tenant | undefined> {
    if (!API_KEY_RE.test(apiKey)) return undefined;
    const hash = hashKey(apiKey);
    const id = this.o.static?.keys.get(hash) ?? (await this.lookupHash(hash));
    return id === undefined ? undefined : this.tenant(id);
  }

  /** The settings of tenant `id` merged over the defaults (works for unknown ids too: `default`). */
  async tenant(id: string): Promise<Tenant> {
    const stored = this.o.static?.settings.get(id) ?? (await this.lookupSettings(id)) ?? {};
    const d = this.o.defaults;
    const ratePerSecond = stored.ratePerSecond ?? d.ratePerSecond;
    const burst = stored.burst ?? d.burst;
    return {
      id,
      ratePerSecond,
      burst: burst > 0 ? burst : Math.max(1, Math.ceil(ratePerSecond * 2)),
      maxOpen: stored.maxOpen ?? d.maxOpen,
      gatewayPriority: stored.gatewayPriority ?? 'normal',
      webhookSecret: stored.webhookSecret ?? d.webhookSecret,
    };
  }

  private async lookupHash(hash: string): Promise<string | undefined> {
    const now = this.clock();
    const hit = this.byHash.get(hash);
    if (hit && hit.until > now) return hit.value;
    let value: string | undefined;
    try {
      value = (await this.o.redis.hget(this.o.keys.apiKeys, hash)) ?? undefined;
    } catch (err) {
      if (hit) return hit.value;
      throw err;
    }
    if (this.byHash.size > 10_000) this.byHash.clear(); // bounded: garbage keys must not grow memory
    this.byHash.set(hash, { value, until: now + this.cacheMs });
    return value;
  }

  private async lookupSettings(id: string): Promise<TenantSettings | undefined> {
    const now = this.clock();
    const hit = this.settings.get(id);
    if (hit && hit.until > now) return hit.value;
    let raw: string | null;
    try {
      raw = await this.o.redis.hget(this.o.keys.tenants, id);
    } catch (err) {
      if (hit) return hit.value;
      throw err;
    }
    let value: TenantSettings | undefined;
    if (raw) {
      try {
        value = parseSettings(JSON.parse(raw), `tenants.${id}`);
      } catch {
        value = undefined; // a corrupt record falls back to the defaults rather than locking the tenant out
      }
    }
    if (this.settings.size > 10_000) this.settings.clear();
    this.settings.set(id, { value, until: now + this.cacheMs });
    return value;
  }
}
