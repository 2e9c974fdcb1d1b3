/**
 * The producer's non-transition scripts: numeric id allocation, admission control and
 * the webhook delivery claim. Each is one Lua call (see the headers in `../lua`); like
 * the transitions they run by SHA of their text, `_common.lua` included.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { TransitionError } from './errors';
import type { Keyspace, Priority } from './keys';
import type { Mode } from './mode';

const SCRIPTS = { allocateId: 1, admitTask: 4, claimWebhooks: 1 } as const;
type ScriptName = keyof typeof SCRIPTS;
type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;
const commandName = (s: ScriptName): string => `ss_${s}`;

/** Ids below this fit a JS number exactly (2^53). */
export const MAX_NUMERIC_ID = Number.MAX_SAFE_INTEGER;

export interface AdmitInput {
  tenant: string;
  taskId: string;
  priority: Priority;
  /** The task's deadline + grace, epoch ms: after it the task no longer counts as open. */
  openUntil: number;
  /** Tokens per second; 0 = unlimited. */
  ratePerSecond: number;
  /** Bucket size; at least 1. */
  burst: number;
  /** The tenant's cap on unfinished tasks; 0 = unlimited. */
  maxOpen: number;
  /** Cap on every lane's length + delayed retries (queued and in flight); 0 = unlimited. */
  maxQueueDepth: number;
  now: number;
}

export type AdmitResult =
  | { admitted: true }
  | { admitted: false; reason: 'mode'; mode: Mode }
  | { admitted: false; reason: 'queue-full'; depth: number }
  | { admitted: false; reason: 'tenant-full'; open: number }
  | { admitted: false; reason: 'rate-limited'; retryAfterMs: number };

export type AdmitRefusal = Exclude<AdmitResult, { admitted: true }>;

/**
 * The refusal codes of `admissionCheck` (_common.lua), shared by admitTask and
 * submitTask, mapped in this one place; undefined for any other reply.
 */
export function admissionRefusal(reply: readonly unknown[]): AdmitRefusal | undefined {
  switch (reply[0]) {
    case -11: return { admitted: false, reason: 'mode', mode: String(reply[1]) as Mode };
    case -12: return { admitted: false, reason: 'queue-full', depth: Number(reply[1]) };
    case -13: return { admitted: false, reason: 'tenant-full', open: Number(reply[1]) };
    case -14: return { admitted: false, reason: 'rate-limited', retryAfterMs: Number(reply[1]) };
    default: return undefined;
  }
}

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
      // admitTask takes every lane too: its key count is 4 + lanes.
      redis.defineCommand(cmd, { lua, numberOfKeys: name === 'admitTask' ? numberOfKeys + keys.lanes.length : numberOfKeys });
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

  /**
   * Mode, queue depth, tenant cap and rate checks; records the task as open when
   * admitted. See admitTask.lua. (The producer admits inside its submit call instead:
   * Transitions.admitAndSubmit, one round trip.)
   */
  async admit(i: AdmitInput): Promise<AdmitResult> {
    const k = this.keys;
    const reply = (await this.fn('admitTask')(
      k.mode, k.rate(i.tenant), k.openTasks(i.tenant), k.delayed, ...k.lanes,
      i.now, i.priority, i.ratePerSecond, Math.max(1, i.burst), i.maxOpen, i.maxQueueDepth, i.taskId, i.openUntil,
    )) as [number, (string | number)?];
    if (reply[0] === 1) return { admitted: true };
    const refused = admissionRefusal(reply);
    if (!refused) throw new TransitionError('UNEXPECTED', `admitTask answered ${JSON.stringify(reply)}`);
    return refused;
  }

  /** The task no longer counts against its tenant's cap (finished, or an idempotent replay). */
  async release(tenant: string, taskId: string): Promise<void> {
    await this.redis.zrem(this.keys.openTasks(tenant), taskId);
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
