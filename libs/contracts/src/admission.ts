/**
 * The producer's non-transition scripts: numeric id allocation and the webhook delivery
 * claim, plus the open-task count of a tenant. Each script is one Lua call (see the
 * headers in `../lua`); like the transitions they run by SHA of their text, `_common.lua`
 * included. Admission itself runs inside the submit call (submitTask.lua,
 * `Transitions.admitAndSubmit`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { TransitionError } from './errors';
import type { Keyspace } from './keys';

const SCRIPTS = { allocateId: 1, claimWebhooks: 1 } as const;
type ScriptName = keyof typeof SCRIPTS;
type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;
const commandName = (s: ScriptName): string => `ss_${s}`;

/** Ids below this fit a JS number exactly (2^53). */
export const MAX_NUMERIC_ID = Number.MAX_SAFE_INTEGER;

export class Admission {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
  ) {
    for (const [name, numberOfKeys] of Object.entries(SCRIPTS)) {
      const cmd = commandName(name as ScriptName);
      if (typeof (redis as unknown as Record<string, unknown>)[cmd] === 'function') continue;
      const dir = join(__dirname, '..', '..', 'lua');
      const lua = readFileSync(join(dir, '_common.lua'), 'utf8') + '\n' + readFileSync(join(dir, `${name}.lua`), 'utf8');
      redis.defineCommand(cmd, { lua, numberOfKeys });
    }
  }

  private fn(name: ScriptName): ScriptFn {
    const f = (this.redis as unknown as Record<string, ScriptFn>)[commandName(name)];
    if (!f) throw new Error(`script ${name} not loaded`);
    return f.bind(this.redis);
  }

  /** Next all-digit task id of this partition (< 2^53); see allocateId.lua. */
  async allocateNumericId(now: number): Promise<string> {
    const id = String(await this.fn('allocateId')(this.keys.idSeq, now));
    if (!/^\d{1,16}$/.test(id) || !Number.isSafeInteger(Number(id))) throw new TransitionError('UNEXPECTED', `allocateId answered ${id}`);
    return id;
  }

  /** The tenant's unfinished tasks (those past deadline + grace are not counted). */
  async openCount(tenant: string, now: number): Promise<number> {
    return this.redis.zcount(this.keys.openTasks(tenant), now, '+inf');
  }

  /** Claims up to `count` due webhook deliveries until `leaseUntil`; see claimWebhooks.lua. */
  async claimWebhooks(now: number, leaseUntil: number, count: number): Promise<string[]> {
    return ((await this.fn('claimWebhooks')(this.keys.webhooks, now, leaseUntil, count)) as string[]).map(String);
  }
}
