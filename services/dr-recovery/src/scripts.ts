/**
 * dr-recovery's Lua scripts (`../lua/*.lua`, each with a header naming every KEYS[i] and
 * ARGV[i]). Registered on a client as `ss_dr_<name>`: ioredis runs them by EVALSHA of
 * their text (EVAL after NOSCRIPT), so two releases side by side never run each other's.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';

/** The files in `../lua` (without `.lua`). */
export type DrScript = 'restoreStream' | 'restoreTasks' | 'stageEntries';

const source = new Map<DrScript, string>();

/** Runs one script with its keys and args (numbers of keys vary per call). */
export async function runScript(redis: Redis, name: DrScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
  const cmd = `ss_dr_${name}`;
  const r = redis as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>;
  if (typeof r[cmd] !== 'function') {
    let lua = source.get(name);
    if (lua === undefined) {
      lua = readFileSync(join(__dirname, '..', '..', 'lua', `${name}.lua`), 'utf8');
      source.set(name, lua);
    }
    redis.defineCommand(cmd, { lua }); // no fixed numberOfKeys: the first argument says how many
  }
  return (r[cmd] as (...a: (string | number)[]) => Promise<unknown>).call(redis, keys.length, ...keys, ...args);
}
