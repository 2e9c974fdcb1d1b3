/**
 * Runtime configuration: the settings that change without a restart (provider keys,
 * which providers take new tasks and in what order, worker limits, the mode pin),
 * versioned in Redis so they can be rotated and rolled back.
 *
 * Storage: the stream `keys.config`, one entry per version, never trimmed (versions are
 * few), archived and restored by dr-recovery like every other stream:
 *
 *   v           entry version (`1`)
 *   version     1, 2, 3, … (the current config is the last entry)
 *   doc         the WHOLE RuntimeConfig as JSON (not a diff: any version can be read
 *               or restored on its own)
 *   by, reason  who changed it and why
 *   at          epoch ms
 *   rollbackOf  present on a rollback: the version whose doc this one copies
 *
 * A change is a compare-and-set on the version (`setConfig.lua`): two operators editing
 * at once cannot silently overwrite each other; the loser re-reads and retries. A
 * rollback is a NEW version carrying an old doc, so history only ever grows and "what
 * ran when" stays answerable. Each change also appends `{kind: config, version}` to the
 * control stream.
 *
 * What is runtime and what is not: a provider's URL and protocol are deployment
 * settings (env, rolled out with the release) because a checkpoint names the provider
 * that holds a task and must keep meaning the same endpoint; its key, whether it takes
 * new tasks and its place in the order are runtime settings here.
 * Names in the doc refer to providers the workers were started with; a worker ignores
 * (and reports) a name it does not know.
 *
 * Secrets: provider keys are stored as given (Redis and the archive are inside the
 * trust boundary; restrict them with ACLs and file permissions). They never leave
 * through `redactConfig`, which every display path uses: a key is shown as its
 * fingerprint (`sha256:1a2b3c4d`), enough to tell which key is in force.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { MODES, type Mode } from './mode';
import type { Keyspace } from './keys';
import { fieldsToObject } from './codec';

export interface ProviderSettings {
  /** API key. Secret. Absent: the key the worker was started with. */
  key?: string;
  /** false: the provider takes no new tasks (tasks it already holds are still polled there). Default true. */
  enabled?: boolean;
}

export interface RuntimeConfig {
  /** Per-provider settings by provider name. */
  providers?: Record<string, ProviderSettings>;
  /** Preference order of new submits by provider name; providers not named follow in their start-up order. */
  order?: string[];
  limits?: {
    /** Most tasks solving at once in one worker process (WORKER_CONCURRENCY). */
    workerConcurrency?: number;
  };
  /** `auto` (default): the supervisor decides the degradation mode; a mode name pins it. */
  mode?: 'auto' | Mode;
}

export interface ConfigVersion {
  version: number;
  doc: RuntimeConfig;
  by: string;
  reason: string;
  at: number;
  rollbackOf?: number;
  /** Stream entry id. */
  id: string;
}

export class ConfigConflictError extends Error {
  readonly code = 'CONFIG_CONFLICT';
  constructor(readonly expected: number, readonly current: number) {
    super(`runtime config changed meanwhile: expected version ${expected}, current is ${current}; re-read and retry`);
  }
}

export class ConfigInvalidError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(`invalid runtime config: ${problems.join('; ')}`);
  }
}

const NAME_RE = /^[a-z0-9_-]{1,32}$/;
const TOP = new Set(['providers', 'order', 'limits', 'mode']);
const PROVIDER_FIELDS = new Set(['key', 'enabled']);
const LIMIT_FIELDS = new Set(['workerConcurrency']);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Validates a config document. Errors name the path (`providers.sim.key: …`) and never
 * echo a key. Unknown fields are refused, so a typo is not silently dropped.
 */
export function validateRuntimeConfig(raw: unknown): RuntimeConfig {
  const problems: string[] = [];
  if (!isObject(raw)) throw new ConfigInvalidError(['the config must be a JSON object']);
  for (const k of Object.keys(raw)) if (!TOP.has(k)) problems.push(`${k}: unknown field (known: ${[...TOP].join(', ')})`);
  const out: RuntimeConfig = {};
  if (raw.providers !== undefined) {
    if (!isObject(raw.providers)) problems.push('providers: must be an object of provider name → settings');
    else {
      out.providers = {};
      for (const [name, p] of Object.entries(raw.providers)) {
        const at = `providers.${name}`;
        if (!NAME_RE.test(name)) { problems.push(`${at}: provider names are 1-32 of [a-z0-9_-]`); continue; }
        if (!isObject(p)) { problems.push(`${at}: must be an object`); continue; }
        for (const k of Object.keys(p)) if (!PROVIDER_FIELDS.has(k)) problems.push(`${at}.${k}: unknown field (known: ${[...PROVIDER_FIELDS].join(', ')})`);
        const s: ProviderSettings = {};
        if (p.key !== undefined) {
          if (typeof p.key !== 'string' || p.key.length < 8 || p.key.length > 256 || /\s/.test(p.key)) problems.push(`${at}.key: must be 8-256 characters without spaces`);
          else s.key = p.key;
        }
        if (p.enabled !== undefined) {
          if (typeof p.enabled !== 'boolean') problems.push(`${at}.enabled: must be true or false`);
          else s.enabled = p.enabled;
        }
        out.providers[name] = s;
      }
    }
  }
  if (raw.order !== undefined) {
    if (!Array.isArray(raw.order) || raw.order.some((n) => typeof n !== 'string' || !NAME_RE.test(n))) problems.push('order: must be a list of provider names');
    else if (new Set(raw.order).size !== raw.order.length) problems.push('order: names a provider twice');
    else out.order = raw.order as string[];
  }
  if (raw.limits !== undefined) {
    if (!isObject(raw.limits)) problems.push('limits: must be an object');
    else {
      for (const k of Object.keys(raw.limits)) if (!LIMIT_FIELDS.has(k)) problems.push(`limits.${k}: unknown field (known: ${[...LIMIT_FIELDS].join(', ')})`);
      const c = raw.limits.workerConcurrency;
      out.limits = {};
      if (c !== undefined) {
        if (typeof c !== 'number' || !Number.isInteger(c) || c < 1 || c > 100_000) problems.push('limits.workerConcurrency: must be an integer from 1 to 100000');
        else out.limits.workerConcurrency = c;
      }
    }
  }
  if (raw.mode !== undefined) {
    if (raw.mode !== 'auto' && !(MODES as readonly unknown[]).includes(raw.mode)) problems.push(`mode: must be auto or one of ${MODES.join(', ')}`);
    else out.mode = raw.mode as RuntimeConfig['mode'];
  }
  if (problems.length) throw new ConfigInvalidError(problems);
  return out;
}

/** `sha256:` + the first 8 hex digits of the key's SHA-256: tells keys apart, reveals nothing usable. */
export function keyFingerprint(key: string): string {
  return `sha256:${createHash('sha256').update(key).digest('hex').slice(0, 8)}`;
}

/** The doc with every key replaced by its fingerprint (for display, logs and diffs). */
export function redactConfig(doc: RuntimeConfig): RuntimeConfig {
  if (!doc.providers) return { ...doc };
  const providers: Record<string, ProviderSettings> = {};
  for (const [name, p] of Object.entries(doc.providers)) providers[name] = p.key === undefined ? { ...p } : { ...p, key: keyFingerprint(p.key) };
  return { ...doc, providers };
}

/**
 * What changed from `a` to `b`, one line per setting, keys shown by fingerprint only
 * (`providers.sim.key: sha256:1a2b3c4d → sha256:5e6f7a8b`).
 */
export function diffConfig(a: RuntimeConfig, b: RuntimeConfig): string[] {
  const flat = (doc: RuntimeConfig): Map<string, string> => {
    const m = new Map<string, string>();
    const walk = (prefix: string, v: unknown): void => {
      if (isObject(v)) for (const [k, x] of Object.entries(v)) walk(prefix ? `${prefix}.${k}` : k, x);
      else m.set(prefix, JSON.stringify(v));
    };
    walk('', redactConfig(doc));
    return m;
  };
  const fa = flat(a);
  const fb = flat(b);
  const out: string[] = [];
  for (const k of [...new Set([...fa.keys(), ...fb.keys()])].sort()) {
    const x = fa.get(k);
    const y = fb.get(k);
    if (x !== y) out.push(`${k}: ${x ?? '(unset)'} → ${y ?? '(unset)'}`);
  }
  return out;
}

/**
 * Sets `path` (dotted, e.g. `providers.captchaai.key`, `limits.workerConcurrency`,
 * `mode`) to `value` in a copy of `doc`; `value` undefined removes the setting. The
 * result still has to pass `validateRuntimeConfig`.
 */
export function setConfigPath(doc: RuntimeConfig, path: string, value: unknown): RuntimeConfig {
  const parts = path.split('.');
  if (parts.some((p) => p === '' || p === '__proto__' || p === 'constructor' || p === 'prototype')) throw new ConfigInvalidError([`${path}: not a settings path`]);
  const copy = JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
  let node = copy;
  for (const p of parts.slice(0, -1)) {
    if (!isObject(node[p])) node[p] = {};
    node = node[p] as Record<string, unknown>;
  }
  const last = parts[parts.length - 1] as string;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy as RuntimeConfig;
}

function decodeVersion(id: string, fields: string[]): ConfigVersion | undefined {
  const o = fieldsToObject(fields);
  const version = Number(o.version);
  if (!Number.isInteger(version) || version < 1 || typeof o.doc !== 'string') return undefined;
  let doc: RuntimeConfig;
  try {
    doc = validateRuntimeConfig(JSON.parse(o.doc));
  } catch {
    return undefined;
  }
  const v: ConfigVersion = { version, doc, by: o.by ?? '', reason: o.reason ?? '', at: Number(o.at) || 0, id };
  if (o.rollbackOf) v.rollbackOf = Number(o.rollbackOf);
  return v;
}

/**
 * The config in force: the newest entry that decodes as a version (an entry injected by
 * hand, or one this release cannot parse, is skipped), or undefined when none was set.
 */
export async function readConfig(redis: Redis, keys: Keyspace): Promise<ConfigVersion | undefined> {
  const recent = (await redis.xrevrange(keys.config, '+', '-', 'COUNT', 100)) as [string, string[]][];
  for (const [id, f] of recent) {
    const v = decodeVersion(id, f);
    if (v) return v;
  }
  return undefined;
}

/**
 * The newest version NUMBER in the stream (0 when none), valid doc or not: what
 * `writeConfig`'s compare-and-set compares `expectedVersion` with (setConfig.lua).
 */
export async function configHead(redis: Redis, keys: Keyspace): Promise<number> {
  const recent = (await redis.xrevrange(keys.config, '+', '-', 'COUNT', 100)) as [string, string[]][];
  for (const [, f] of recent) {
    const n = Number(fieldsToObject(f).version);
    if (Number.isInteger(n) && n > 0) return n;
  }
  return 0;
}

/** Every version, oldest first (entries that fail to decode are skipped). */
export async function configHistory(redis: Redis, keys: Keyspace): Promise<ConfigVersion[]> {
  const all = (await redis.xrange(keys.config, '-', '+')) as [string, string[]][];
  return all.map(([id, f]) => decodeVersion(id, f)).filter((v): v is ConfigVersion => v !== undefined);
}

let setConfigLua: string | undefined;
function loadSetConfig(redis: Redis): void {
  if (typeof (redis as unknown as Record<string, unknown>).ss_setConfig === 'function') return;
  const dir = join(__dirname, '..', '..', 'lua');
  setConfigLua ??= readFileSync(join(dir, '_common.lua'), 'utf8') + '\n' + readFileSync(join(dir, 'setConfig.lua'), 'utf8');
  redis.defineCommand('ss_setConfig', { lua: setConfigLua, numberOfKeys: 2 });
}

export interface SetConfigInput {
  doc: RuntimeConfig;
  /** The version the change was made from (0 = none yet); a different current version is a conflict. */
  expectedVersion: number;
  by: string;
  reason: string;
  now?: number;
  rollbackOf?: number;
  /** Approximate MAXLEN of the control stream. Default 10,000. */
  controlMaxLen?: number;
}

/** Appends a new version (validated first). Throws ConfigConflictError / ConfigInvalidError. */
export async function writeConfig(redis: Redis, keys: Keyspace, i: SetConfigInput): Promise<ConfigVersion> {
  const doc = validateRuntimeConfig(i.doc);
  loadSetConfig(redis);
  const now = i.now ?? Date.now();
  const run = (redis as unknown as Record<string, (...a: (string | number)[]) => Promise<[number, string | number]>>).ss_setConfig!.bind(redis);
  const [version, idOrCurrent] = await run(
    keys.config, keys.control, i.expectedVersion, JSON.stringify(doc), i.by.slice(0, 200), i.reason.slice(0, 500), now,
    i.rollbackOf === undefined ? '' : String(i.rollbackOf), i.controlMaxLen ?? 10_000,
  );
  if (version === -20) throw new ConfigConflictError(i.expectedVersion, Number(idOrCurrent));
  const v: ConfigVersion = { version, doc, by: i.by, reason: i.reason, at: now, id: String(idOrCurrent) };
  if (i.rollbackOf !== undefined) v.rollbackOf = i.rollbackOf;
  return v;
}

/** Makes the doc of `toVersion` current again, as a new version. Throws when `toVersion` does not exist. */
export async function rollbackConfig(redis: Redis, keys: Keyspace, o: { toVersion: number; by: string; reason?: string }): Promise<ConfigVersion> {
  const history = await configHistory(redis, keys);
  const target = history.find((v) => v.version === o.toVersion);
  if (!target) throw new ConfigInvalidError([`version ${o.toVersion} does not exist (versions: ${history.map((v) => v.version).join(', ') || 'none'})`]);
  return writeConfig(redis, keys, {
    doc: target.doc, expectedVersion: await configHead(redis, keys), by: o.by, reason: o.reason ?? `rollback to version ${o.toVersion}`, rollbackOf: o.toVersion,
  });
}
