/**
 * The client for one upstream provider, whichever protocol it speaks: v1 `in.php` /
 * `res.php` (CaptchaAI, 2captcha, the simulator) or the JSON task API (anti-captcha,
 * 2captcha v2). Callers get one interface; the protocol lives in `protocol-v1.ts` /
 * `protocol-json.ts` and the HTTP in `http.ts`.
 *
 * Every failure is a `ProviderError` (classified in `errors.ts`) whose message has been
 * scrubbed of the key. Poll methods never throw a ProviderError for a protocol answer:
 * `getOne` folds transport failures into an error slot too, so a poller can treat every
 * id alike.
 */
import type { SendGuard } from '../send-guard';
import type { TaskSpec, TaskType } from '@solvestream/contracts';
import { ProviderError } from './errors';
import { ProviderHttp } from './http';
import { V1Wire } from './protocol-v1';
import { JsonWire } from './protocol-json';
import type { PollSlot, ProviderProtocol, ReportVerdict, Wire } from './types';

export type { PollSlot, ProviderProtocol, ReportVerdict } from './types';

/** One provider request as metrics see it: phase, duration, and `OK` or the error code. */
export interface ProviderCall {
  provider: string;
  phase: 'submit' | 'poll' | 'balance' | 'report';
  /** Request duration; absent for per-id error codes inside a multi-get answer. */
  seconds?: number;
  code: string;
}

export interface ProviderConfig {
  /** Told about every request (metrics). A throwing observer is ignored. */
  observe?: (call: ProviderCall) => void;
  /** Short name used in checkpoints, logs and metrics (`captchaai`, `sim`, `2captcha`). Unique per worker. */
  name: string;
  /** Wire protocol: `v1` (`/in.php`, `/res.php`) or `json` (`/createTask`, …). Default `v1`. */
  protocol?: ProviderProtocol;
  /** Base URL; the protocol's paths are appended. */
  baseUrl: string;
  /** API key. Secret: never logged. */
  key: string;
  /** Whether `res.php?action=get&ids=` is supported. Default true for v1; always false for `json`. */
  multiGet?: boolean;
  /** Most ids in one multi-get. Default 100. */
  maxIdsPerGet?: number;
  /** CaptchaAI semantics: ERROR_ZERO_BALANCE means "no free thread". Default true. */
  zeroBalanceIsCapacity?: boolean;
  /** Per-request timeout, ms. Default 15,000. */
  timeoutMs?: number;
  /** Most HTTP requests in flight at once to this provider. Default 64. */
  maxConcurrentRequests?: number;
  /**
   * Below this balance the router stops sending new tasks here (and alerts); checked
   * every balance interval. Unset: the balance is never checked.
   */
  minBalance?: number;
}

export class ProviderClient {
  readonly name: string;
  readonly protocol: ProviderProtocol;
  readonly multiGet: boolean;
  readonly maxIdsPerGet: number;
  readonly minBalance: number | undefined;
  /** HTTP requests made, by kind (for benchmarks and metrics). */
  readonly calls = { submit: 0, get: 0, multiGet: 0, balance: 0, report: 0 };
  private readonly http: ProviderHttp;
  private readonly wire: Wire;
  private readonly observe: ProviderConfig['observe'];

  constructor(config: ProviderConfig) {
    this.name = config.name;
    this.protocol = config.protocol ?? 'v1';
    this.maxIdsPerGet = config.maxIdsPerGet ?? 100;
    this.minBalance = config.minBalance;
    this.observe = config.observe;
    this.http = new ProviderHttp({
      name: config.name,
      baseUrl: config.baseUrl,
      key: config.key,
      timeoutMs: config.timeoutMs ?? 15_000,
      maxConcurrent: config.maxConcurrentRequests ?? 64,
      zeroBalanceIsCapacity: config.zeroBalanceIsCapacity ?? true,
    });
    this.wire = this.protocol === 'json' ? new JsonWire(this.http) : new V1Wire(this.http, config.multiGet ?? true);
    this.multiGet = this.wire.multiGet;
  }

  /** The key in use (secret; compare, never log). */
  get key(): string {
    return this.http.key;
  }

  /** Rotates the API key for every request sent from now on (see ProviderHttp.setKey). */
  setKey(key: string): void {
    this.http.setKey(key);
  }

  /** Closes its connections (at shutdown: a request still in flight fails as NETWORK). */
  close(): void {
    this.http.close();
  }

  /** Total HTTP requests made. */
  get totalCalls(): number {
    const c = this.calls;
    return c.submit + c.get + c.multiGet + c.balance + c.report;
  }

  /** Times `fn` and tells the observer how it ended (`OK` or the ProviderError code). */
  private async timed<T>(phase: ProviderCall['phase'], fn: () => Promise<T>, codeOf: (v: T) => string = () => 'OK'): Promise<T> {
    const t0 = performance.now();
    const tell = (code: string): void => {
      try {
        this.observe?.({ provider: this.name, phase, seconds: (performance.now() - t0) / 1000, code });
      } catch {
        /* metrics never break a request */
      }
    };
    try {
      const v = await fn();
      tell(codeOf(v));
      return v;
    } catch (err) {
      tell(err instanceof ProviderError ? err.code : 'INTERNAL');
      throw err;
    }
  }

  /** Submits a task and returns the provider's task id. */
  submit(spec: TaskSpec, guard?: SendGuard): Promise<string> {
    this.calls.submit++;
    return this.timed('submit', () => this.wire.submit(spec, guard));
  }

  /** Polls one task, keeping the answer's extra fields (user agent, respKey). Never rejects with a ProviderError. */
  async getOne(id: string, type: TaskType): Promise<PollSlot> {
    this.calls.get++;
    return this.timed('poll', async (): Promise<PollSlot> => {
      try {
        return await this.wire.getOne(id, type);
      } catch (err) {
        if (err instanceof ProviderError) return { state: 'error', error: err };
        throw err;
      }
    }, (slot) => (slot.state === 'error' ? slot.error.code : 'OK'));
  }

  /**
   * Polls many tasks in one request (v1 only: check `multiGet`). A transport failure
   * throws; a per-id error code is returned in its slot (and told to the observer).
   */
  async getMany(ids: readonly string[], types: ReadonlyMap<string, TaskType>): Promise<Map<string, PollSlot>> {
    this.calls.multiGet++;
    const slots = await this.timed('poll', () => this.wire.getMany(ids, types));
    for (const slot of slots.values()) {
      if (slot.state === 'error') {
        try { this.observe?.({ provider: this.name, phase: 'poll', code: slot.error.code }); } catch { /* ignored */ }
      }
    }
    return slots;
  }

  /** Account balance (`getbalance` / `getBalance`). */
  balance(): Promise<number> {
    this.calls.balance++;
    return this.timed('balance', () => this.wire.balance());
  }

  /**
   * Reports a solved task to this provider (`reportgood`/`reportbad`, or the JSON API's
   * report methods). A refusal (already reported, too late) rejects with a permanent ProviderError.
   */
  report(providerTaskId: string, type: TaskType, verdict: ReportVerdict): Promise<void> {
    this.calls.report++;
    return this.timed('report', () => this.wire.report(providerTaskId, type, verdict));
  }
}
