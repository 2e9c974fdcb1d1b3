/**
 * HTTP client for one v1-protocol provider (CaptchaAI, 2captcha, the simulator).
 *
 * Every request is a POST with a form body, so the API key travels in the body and
 * never in a URL (URLs end up in logs and trace attributes). Every failure is a
 * `ProviderError` whose message has been scrubbed of the key.
 */
import { scrubSecrets } from '@solvestream/core';
import type { TaskSpec } from '@solvestream/contracts';
import { ProviderError, classifyCode } from './errors';
import { NOT_READY, isProviderId, parseJsonReply, submitFields, toSolution, type V1Reply } from './protocol-v1';
import type { Solution } from '@solvestream/contracts';

export interface ProviderConfig {
  /** Short name used in checkpoints, logs and metrics (`captchaai`, `sim`, `2captcha`). */
  name: string;
  /** Base URL; `/in.php` and `/res.php` are appended. */
  baseUrl: string;
  /** API key. Secret: never logged. */
  key: string;
  /** Whether `res.php?action=get&ids=` is supported. Default true. */
  multiGet?: boolean;
  /** Most ids in one multi-get. Default 100. */
  maxIdsPerGet?: number;
  /** CaptchaAI semantics: ERROR_ZERO_BALANCE means "no free thread". Default true. */
  zeroBalanceIsCapacity?: boolean;
  /** Per-request timeout, ms. Default 15,000. */
  timeoutMs?: number;
}

export type PollSlot =
  | { state: 'pending' }
  | { state: 'ready'; solution: Solution }
  | { state: 'error'; error: ProviderError };

export class ProviderClient {
  readonly name: string;
  readonly multiGet: boolean;
  readonly maxIdsPerGet: number;
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly zeroBalanceIsCapacity: boolean;
  /** HTTP requests made, by kind (for benchmarks and metrics). */
  readonly calls = { submit: 0, get: 0, multiGet: 0, other: 0 };

  constructor(private readonly config: ProviderConfig) {
    this.name = config.name;
    this.base = config.baseUrl.replace(/\/+$/, '');
    this.multiGet = config.multiGet ?? true;
    this.maxIdsPerGet = config.maxIdsPerGet ?? 100;
    this.timeoutMs = config.timeoutMs ?? 15_000;
    this.zeroBalanceIsCapacity = config.zeroBalanceIsCapacity ?? true;
  }

  private error(code: string, message: string, cause?: unknown): ProviderError {
    const cls = classifyCode(code, this.zeroBalanceIsCapacity);
    return new ProviderError(this.name, code, cls, scrubSecrets(`${this.name}: ${message}`, [this.config.key]), cause);
  }

  /** POSTs a form to `path` and returns the parsed json=1 reply; transport problems throw. */
  private async call(path: '/in.php' | '/res.php', fields: Record<string, string>): Promise<V1Reply> {
    const body = new URLSearchParams({ ...fields, key: this.config.key, json: '1' });
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const reason = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
      throw this.error('NETWORK', `${path} request failed: ${reason}`, undefined);
    }
    const text = await res.text().catch(() => '');
    if (res.status === 429) throw this.error('HTTP_429', `${path} answered HTTP 429`);
    if (res.status !== 200) throw this.error(`HTTP_${res.status}`, `${path} answered HTTP ${res.status}`);
    const reply = parseJsonReply(text);
    if (!reply) {
      // Plain-text error codes still arrive on some errors even with json=1.
      const plain = text.trim();
      if (/^(ERROR_[A-Z_]+|MAX_USER_TURN|IP_BANNED|ERROR: ?\d{4})$/.test(plain)) return { ok: false, code: plain };
      throw this.error('BAD_RESPONSE', `${path} answered something that is not a v1 reply: ${JSON.stringify(plain.slice(0, 120))}`);
    }
    return reply;
  }

  /** Submits a task and returns the provider's task id. */
  async submit(spec: TaskSpec): Promise<string> {
    this.calls.submit++;
    const reply = await this.call('/in.php', submitFields(spec));
    if (!reply.ok) throw this.error(reply.code, `in.php refused the task: ${reply.code}${reply.text ? ` (${reply.text})` : ''}`);
    if (!isProviderId(reply.request)) throw this.error('BAD_RESPONSE', `in.php answered a malformed task id ${JSON.stringify(reply.request.slice(0, 40))}`);
    return reply.request;
  }

  /** Polls one task (`action=get&id=`), keeping the answer's extra fields. */
  async getOne(id: string, type: TaskSpec['type']): Promise<PollSlot> {
    this.calls.get++;
    try {
      const reply = await this.call('/res.php', { action: 'get', id });
      if (reply.ok) return { state: 'ready', solution: toSolution(type, reply.request, reply.extra) };
      if (reply.code === NOT_READY) return { state: 'pending' };
      return { state: 'error', error: this.error(reply.code, `res.php answered ${reply.code} for ${id}`) };
    } catch (err) {
      if (err instanceof ProviderError) return { state: 'error', error: err };
      throw err;
    }
  }

  /**
   * Polls many tasks in one request (`action=get&ids=a,b,c`). The answer lists one slot
   * per id, in order, joined by `|` (captcha-protocols.md §1.4). A transport failure
   * throws; a per-slot error code is returned in its slot.
   */
  async getMany(ids: readonly string[], types: ReadonlyMap<string, TaskSpec['type']>): Promise<Map<string, PollSlot>> {
    this.calls.multiGet++;
    const reply = await this.call('/res.php', { action: 'get', ids: ids.join(',') });
    const out = new Map<string, PollSlot>();
    if (!reply.ok) {
      if (reply.code === NOT_READY) {
        for (const id of ids) out.set(id, { state: 'pending' });
        return out;
      }
      throw this.error(reply.code, `res.php multi-get answered ${reply.code}`);
    }
    const slots = ids.length === 1 ? [reply.request] : reply.request.split('|');
    if (slots.length !== ids.length) {
      throw this.error('BAD_RESPONSE', `res.php multi-get answered ${slots.length} slots for ${ids.length} ids`);
    }
    ids.forEach((id, i) => {
      const slot = slots[i] as string;
      if (slot === NOT_READY) out.set(id, { state: 'pending' });
      else if (/^(ERROR_[A-Z_]+|ERROR: ?\d{4})$/.test(slot)) out.set(id, { state: 'error', error: this.error(slot, `res.php answered ${slot} for ${id}`) });
      else out.set(id, { state: 'ready', solution: toSolution(types.get(id) ?? 'recaptcha_v2', slot.replace(/^OK\|/, '')) });
    });
    return out;
  }

  /** Account balance (`action=getbalance`). */
  async balance(): Promise<number> {
    this.calls.other++;
    const reply = await this.call('/res.php', { action: 'getbalance' });
    if (!reply.ok) throw this.error(reply.code, `getbalance answered ${reply.code}`);
    const n = Number(reply.request);
    if (!Number.isFinite(n)) throw this.error('BAD_RESPONSE', 'getbalance answered a non-number');
    return n;
  }
}
