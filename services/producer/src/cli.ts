#!/usr/bin/env node
/**
 * `ss-tenants`: tenants and API keys, straight against Redis (keys.apiKeys, keys.tenants).
 * Keys are shown once, when created; Redis holds only their sha256.
 *
 *   ss-tenants add    <tenant> [--rate N] [--burst N] [--max-open N] [--priority P]   new tenant + its first key
 *   ss-tenants key    <tenant>                      one more key (rotation: add, switch clients, revoke the old)
 *   ss-tenants revoke <key | fingerprint>           revoke one key (fingerprint: first 12 hex of its sha256, from `list`)
 *   ss-tenants revoke --tenant <tenant>             revoke every key of a tenant
 *   ss-tenants set    <tenant> [--rate N] [--burst N] [--max-open N] [--priority P] [--rotate-webhook-secret]
 *   ss-tenants remove <tenant>                      the tenant and all its keys
 *   ss-tenants list                                 tenants, settings and key fingerprints (never keys or secrets)
 *   ss-tenants hash   <key>                         sha256:<hex> of a key, for TENANTS_FILE (no Redis)
 *
 * Env: REDIS_URL (default redis://127.0.0.1:6379), KEY_PREFIX, PARTITION. Prints JSON.
 * Producers see changes within TENANT_CACHE_MS (default 5 s). Adding the first key
 * closes an open API. Exit codes: 0 done, 1 failed, 2 usage error.
 */
import { parseArgs } from 'node:util';
import { keyspace, PRIORITIES } from '@solvestream/contracts';
import { createRedis, PARTITION_ENV, parseCliEnv } from '@solvestream/core';
import {
  API_KEY_RE, fingerprint, hashKey, newApiKey, newWebhookSecret, parseSettings, TENANT_ID_RE, type TenantSettings,
} from './tenants';

const CLI_ENV = PARTITION_ENV;

const USAGE = 'usage: ss-tenants add|key|revoke|set|remove|list|hash [tenant|key] [--rate N] [--burst N] [--max-open N] [--priority P] [--tenant T] [--rotate-webhook-secret]';

class UsageError extends Error {}

function number(name: string, v: string | undefined, integer: boolean): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) throw new UsageError(`--${name}: must be a ${integer ? 'whole ' : ''}number >= 0 (got ${JSON.stringify(v)})`);
  return n;
}

export async function run(argv: string[], out: (s: string) => void, source: Record<string, string | undefined> = process.env): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        rate: { type: 'string' }, burst: { type: 'string' }, 'max-open': { type: 'string' }, priority: { type: 'string' },
        tenant: { type: 'string' }, 'rotate-webhook-secret': { type: 'boolean' },
      },
    });
  } catch (err) {
    out(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const [command, arg] = parsed.positionals;
  const v = parsed.values;
  if (command === 'hash') {
    if (!arg) { out(`hash: give a key\n${USAGE}`); return 2; }
    out(JSON.stringify({ hash: `sha256:${hashKey(arg)}` }));
    return 0;
  }
  const e = parseCliEnv(CLI_ENV, source, out);
  if (!e) return 2;
  const redis = createRedis({ url: e.REDIS_URL, name: 'ss-tenants', role: 'worker' });
  const keys = keyspace({ prefix: e.KEY_PREFIX, partition: e.PARTITION });

  const tenantArg = (): string => {
    if (!arg || !TENANT_ID_RE.test(arg)) throw new UsageError(`${command}: give a tenant id (1-64 of [A-Za-z0-9_.-])`);
    return arg;
  };
  const settingsFromFlags = (base: TenantSettings): TenantSettings => {
    const s: TenantSettings = { ...base };
    const rate = number('rate', v.rate, false);
    const burst = number('burst', v.burst, true);
    const maxOpen = number('max-open', v['max-open'], true);
    if (rate !== undefined) s.ratePerSecond = rate;
    if (burst !== undefined) s.burst = burst;
    if (maxOpen !== undefined) s.maxOpen = maxOpen;
    if (v.priority !== undefined) {
      if (!(PRIORITIES as readonly string[]).includes(v.priority)) throw new UsageError(`--priority: must be one of ${PRIORITIES.join(', ')}`);
      s.gatewayPriority = v.priority as TenantSettings['gatewayPriority'];
    }
    return s;
  };
  const load = async (id: string): Promise<TenantSettings | undefined> => {
    const raw = await redis.hget(keys.tenants, id);
    return raw ? parseSettings(JSON.parse(raw), `tenants.${id}`) : undefined;
  };
  const keysOf = async (id: string): Promise<string[]> =>
    Object.entries(await redis.hgetall(keys.apiKeys)).filter(([, t]) => t === id).map(([h]) => h);
  const issueKey = async (id: string): Promise<{ apiKey: string; fingerprint: string }> => {
    const apiKey = newApiKey();
    await redis.hset(keys.apiKeys, hashKey(apiKey), id);
    return { apiKey, fingerprint: fingerprint(hashKey(apiKey)) };
  };

  try {
    switch (command) {
      case 'add': {
        const id = tenantArg();
        if (await load(id)) throw new UsageError(`add: tenant ${id} exists; use \`key ${id}\` for another key or \`set ${id}\` for its settings`);
        const settings = settingsFromFlags({ webhookSecret: newWebhookSecret() });
        await redis.hset(keys.tenants, id, JSON.stringify(settings));
        const k = await issueKey(id);
        out(JSON.stringify({ tenant: id, ...k, webhookSecret: settings.webhookSecret, settings: { ...settings, webhookSecret: undefined }, note: 'the key and the webhook secret are shown only now' }, null, 2));
        return 0;
      }
      case 'key': {
        const id = tenantArg();
        if (!(await load(id))) throw new UsageError(`key: no tenant ${id}; create it with \`add ${id}\``);
        out(JSON.stringify({ tenant: id, ...(await issueKey(id)), note: 'the key is shown only now' }, null, 2));
        return 0;
      }
      case 'set': {
        const id = tenantArg();
        const current = await load(id);
        if (!current) throw new UsageError(`set: no tenant ${id}`);
        const next = settingsFromFlags(current);
        if (v['rotate-webhook-secret']) next.webhookSecret = newWebhookSecret();
        await redis.hset(keys.tenants, id, JSON.stringify(next));
        out(JSON.stringify({ tenant: id, settings: { ...next, webhookSecret: undefined }, ...(v['rotate-webhook-secret'] ? { webhookSecret: next.webhookSecret } : {}) }, null, 2));
        return 0;
      }
      case 'revoke': {
        if (v.tenant !== undefined) {
          const hashes = await keysOf(v.tenant);
          if (hashes.length) await redis.hdel(keys.apiKeys, ...hashes);
          out(JSON.stringify({ tenant: v.tenant, revoked: hashes.map(fingerprint) }));
          return 0;
        }
        if (!arg) throw new UsageError('revoke: give a key, a key fingerprint, or --tenant <id>');
        const all = Object.keys(await redis.hgetall(keys.apiKeys));
        const full = API_KEY_RE.test(arg) ? hashKey(arg) : undefined;
        const matches = all.filter((h) => h === full || (/^[0-9a-f]{8,64}$/.test(arg) && h.startsWith(arg)));
        if (matches.length !== 1) {
          out(matches.length === 0 ? 'revoke: no such key' : `revoke: ${matches.length} keys match; give a longer fingerprint`);
          return 1;
        }
        await redis.hdel(keys.apiKeys, matches[0]!);
        out(JSON.stringify({ revoked: fingerprint(matches[0]!) }));
        return 0;
      }
      case 'remove': {
        const id = tenantArg();
        const hashes = await keysOf(id);
        const m = redis.multi().hdel(keys.tenants, id);
        if (hashes.length) m.hdel(keys.apiKeys, ...hashes);
        await m.exec();
        out(JSON.stringify({ removed: id, revoked: hashes.map(fingerprint) }));
        return 0;
      }
      case 'list': {
        const [tenants, apiKeys] = await Promise.all([redis.hgetall(keys.tenants), redis.hgetall(keys.apiKeys)]);
        const ids = new Set([...Object.keys(tenants), ...Object.values(apiKeys)]);
        out(JSON.stringify([...ids].sort().map((id) => {
          let settings: TenantSettings | string = 'corrupt';
          try {
            settings = tenants[id] ? parseSettings(JSON.parse(tenants[id]), id) : {};
          } catch { /* shown as corrupt */ }
          const shown = typeof settings === 'string' ? settings : { ...settings, webhookSecret: settings.webhookSecret ? 'set' : undefined };
          return { tenant: id, settings: shown, keys: Object.entries(apiKeys).filter(([, t]) => t === id).map(([h]) => fingerprint(h)) };
        }), null, 2));
        return 0;
      }
      default:
        throw new UsageError(command ? `unknown command ${JSON.stringify(command)}` : 'missing command');
    }
  } catch (err) {
    if (err instanceof UsageError) { out(`${err.message}\n${USAGE}`); return 2; }
    out(`failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    redis.disconnect();
  }
}

if (require.main === module) {
  void run(process.argv.slice(2), (s) => process.stdout.write(s + '\n')).then((code) => process.exit(code));
}
