/**
 * `dr config …`: the versioned runtime config (contracts `runtime-config.ts`) from a shell.
 *
 *   dr config show                     the version in force (keys as fingerprints) and which
 *                                      version each live worker reports in its heartbeat
 *   dr config set <path>=<value> …     a new version with those settings changed:
 *                                        providers.<name>.key=@env:VAR   the key from $VAR (keeps it
 *                                                                        out of shell history)
 *                                        providers.<name>.enabled=false
 *                                        order=["alt","sim"]             values are JSON, else text
 *                                        limits.workerConcurrency=500
 *                                        mode=emergency | mode=auto
 *                                        <path>=                         removes the setting
 *   dr config set --file doc.json      a new version with the whole doc from a file
 *   dr config history                  every version, oldest first, with what each changed
 *   dr config rollback <version>       the doc of <version> in force again, as a new version
 *
 * `--reason "…"` records why (default: the command line without values); `--by` who
 * (default: $USER@host). A concurrent change is detected (compare-and-set on the version);
 * `set` re-applies its changes to the newer version and tries again, up to 3 times.
 * Values are never printed: keys appear as `sha256:xxxxxxxx` fingerprints.
 */
import { readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import type { Redis } from 'ioredis';
import {
  ConfigConflictError, ConfigInvalidError, configHead, configHistory, diffConfig, fieldsToObject, readConfig, redactConfig,
  rollbackConfig, setConfigPath, validateRuntimeConfig, writeConfig, type Keyspace, type RuntimeConfig,
} from '@solvestream/contracts';

export const CONFIG_USAGE = 'usage: dr config show | set <path>=<value>… [--reason R] | set --file doc.json | history | rollback <version> [--reason R]';

export interface ConfigCliOptions {
  redis: Redis;
  keys: Keyspace;
  args: string[];
  values: { reason?: string; by?: string; file?: string };
  out: (s: string) => void;
  env: Record<string, string | undefined>;
}

/** Exit code: 0 done, 1 refused or failed (the message says why), 2 usage error. */
export async function runConfigCommand(o: ConfigCliOptions): Promise<number> {
  const [sub, ...rest] = o.args;
  const json = (v: unknown): void => o.out(JSON.stringify(v, null, 2));
  const by = o.values.by ?? `${safeUser()}@${hostname()}`;
  try {
    switch (sub) {
      case 'show': {
        const v = await readConfig(o.redis, o.keys);
        json({
          version: v?.version ?? 0, by: v?.by, reason: v?.reason, at: v ? new Date(v.at).toISOString() : undefined, rollbackOf: v?.rollbackOf,
          doc: redactConfig(v?.doc ?? {}), instances: await instanceVersions(o.redis, o.keys),
        });
        return 0;
      }
      case 'history': {
        const all = await configHistory(o.redis, o.keys);
        json(all.map((v, i) => ({
          version: v.version, at: new Date(v.at).toISOString(), by: v.by, reason: v.reason, rollbackOf: v.rollbackOf,
          changes: diffConfig(i === 0 ? {} : (all[i - 1] as { doc: RuntimeConfig }).doc, v.doc),
        })));
        return 0;
      }
      case 'rollback': {
        const n = Number(rest[0]);
        if (rest.length !== 1 || !Number.isInteger(n) || n < 1) {
          o.out(`rollback needs one version number\n${CONFIG_USAGE}`);
          return 2;
        }
        const before = (await readConfig(o.redis, o.keys))?.doc ?? {};
        const v = await rollbackConfig(o.redis, o.keys, { toVersion: n, by, reason: o.values.reason });
        json({ version: v.version, rollbackOf: n, changes: diffConfig(before, v.doc) });
        return 0;
      }
      case 'set':
        return await set(o, rest, by, json);
      default:
        o.out(`${sub ? `unknown config command ${JSON.stringify(sub)}` : 'missing config command'}\n${CONFIG_USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof ConfigInvalidError || err instanceof ConfigConflictError) {
      o.out(err.message);
      return 1;
    }
    throw err;
  }
}

async function set(o: ConfigCliOptions, assignments: string[], by: string, json: (v: unknown) => void): Promise<number> {
  let edit: (doc: RuntimeConfig) => RuntimeConfig;
  let what: string;
  if (o.values.file) {
    if (assignments.length) {
      o.out(`give either --file or <path>=<value> settings, not both\n${CONFIG_USAGE}`);
      return 2;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(o.values.file, 'utf8'));
    } catch (err) {
      o.out(`--file ${o.values.file}: ${(err as Error).message}`);
      return 1;
    }
    const whole = validateRuntimeConfig(doc);
    edit = () => whole;
    what = `whole doc from ${o.values.file}`;
  } else {
    if (!assignments.length) {
      o.out(`set needs at least one <path>=<value>\n${CONFIG_USAGE}`);
      return 2;
    }
    const changes: [string, unknown][] = [];
    for (const a of assignments) {
      const eq = a.indexOf('=');
      if (eq <= 0) {
        o.out(`${JSON.stringify(a)}: expected <path>=<value>\n${CONFIG_USAGE}`);
        return 2;
      }
      const path = a.slice(0, eq);
      const raw = a.slice(eq + 1);
      let value: unknown;
      if (raw.startsWith('@env:')) {
        const name = raw.slice(5);
        value = o.env[name];
        if (value === undefined || value === '') {
          o.out(`${path}: environment variable ${name} is not set`);
          return 1;
        }
      } else if (raw === '') {
        value = undefined;
      } else {
        try {
          value = JSON.parse(raw);
        } catch {
          value = raw;
        }
      }
      changes.push([path, value]);
    }
    edit = (doc) => changes.reduce((d, [path, value]) => setConfigPath(d, path, value), doc);
    what = changes.map(([p, v]) => (v === undefined ? `unset ${p}` : `set ${p}`)).join(', ');
  }
  for (let attempt = 1; ; attempt++) {
    const head = await configHead(o.redis, o.keys);
    const current = (await readConfig(o.redis, o.keys))?.doc ?? {};
    const next = edit(current);
    const changed = diffConfig(current, next);
    if (!changed.length) {
      json({ version: head, changes: [], note: 'nothing changed; no new version written' });
      return 0;
    }
    try {
      const v = await writeConfig(o.redis, o.keys, { doc: next, expectedVersion: head, by, reason: o.values.reason ?? what });
      json({ version: v.version, changes: changed });
      return 0;
    } catch (err) {
      if (!(err instanceof ConfigConflictError) || attempt >= 3) throw err;
    }
  }
}

/** The config version each instance reported in its latest heartbeat of the last minute. */
async function instanceVersions(redis: Redis, keys: Keyspace): Promise<Record<string, { service: string; configVersion: number; seenSecondsAgo: number }>> {
  const recent = (await redis.xrevrange(keys.heartbeats, '+', '-', 'COUNT', 2000)) as [string, string[]][];
  const out: Record<string, { service: string; configVersion: number; seenSecondsAgo: number }> = {};
  const now = Date.now();
  for (const [, f] of recent) {
    const h = fieldsToObject(f);
    const at = Number(h.at);
    if (!h.instance || out[h.instance] || h.configVersion === undefined || !(now - at < 60_000)) continue;
    out[h.instance] = { service: h.service ?? '?', configVersion: Number(h.configVersion), seenSecondsAgo: Math.round((now - at) / 1000) };
  }
  return out;
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
