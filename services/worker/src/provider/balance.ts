/**
 * Periodic balance check of one provider account.
 *
 *   UNKNOWN ──check: balance ≥ min──▶ OK ◀──check: balance ≥ min── LOW
 *      └──────check: balance < min─────────▶ LOW ◀──balance < min── OK
 *
 * UNKNOWN (before the first answer) and OK both let the router send new tasks here; LOW
 * stops it. A failed check (network, provider error) keeps the last known state: a
 * provider that cannot answer `getbalance` is the breaker's business, not ours.
 * Every change of state (UNKNOWN → OK excepted: nothing to announce) goes to `onChange`.
 *
 * Checks run every `intervalMs` (default 60 s; anti-captcha asks for no more than one
 * per 30 s) and once at `start()`. They never overlap.
 */
import type { Logger } from '@solvestream/core';
import type { ProviderClient } from './client';

export type BalanceState = 'unknown' | 'ok' | 'low';

export interface BalanceChange {
  provider: string;
  from: BalanceState;
  to: Exclude<BalanceState, 'unknown'>;
  balance: number;
  minBalance: number;
  at: number;
}

export interface BalanceMonitorOptions {
  minBalance: number;
  /** Default 60,000 ms. */
  intervalMs?: number;
  clock?: () => number;
  logger?: Logger;
  onChange?: (c: BalanceChange) => void;
}

export class BalanceMonitor {
  private current: BalanceState = 'unknown';
  private last: number | undefined;
  private checkedAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly clock: () => number;

  constructor(private readonly client: ProviderClient, private readonly o: BalanceMonitorOptions) {
    this.clock = o.clock ?? Date.now;
  }

  get state(): BalanceState {
    return this.current;
  }

  get minBalance(): number {
    return this.o.minBalance;
  }

  /** Last balance read, and when (epoch ms); undefined before the first answer. */
  get lastBalance(): { balance: number; at: number } | undefined {
    return this.last === undefined || this.checkedAt === undefined ? undefined : { balance: this.last, at: this.checkedAt };
  }

  /** Checks now and every interval after. Safe to call twice. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.check(), this.o.intervalMs ?? 60_000);
    this.timer.unref();
    void this.check();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One check now (joins a check already running). Never rejects. */
  check(): Promise<void> {
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(): Promise<void> {
    let balance: number;
    try {
      balance = await this.client.balance();
    } catch (err) {
      this.o.logger?.warn({ provider: this.client.name, err: err instanceof Error ? err.message : String(err) }, 'balance check failed; keeping the last known state');
      return;
    }
    this.last = balance;
    this.checkedAt = this.clock();
    const to = balance < this.o.minBalance ? 'low' : 'ok';
    const from = this.current;
    if (to === from) return;
    this.current = to;
    if (from === 'unknown' && to === 'ok') return;
    try {
      this.o.onChange?.({ provider: this.client.name, from, to, balance, minBalance: this.o.minBalance, at: this.checkedAt });
    } catch {
      // A listener bug must not stop the checks.
    }
  }
}
