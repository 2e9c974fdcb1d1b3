/**
 * The provider's business rules, shared by the v1 and JSON protocols: admission
 * (balance, threads), task lookup by id for a key, and reports.
 *
 * Admission follows CaptchaAI: a submit is rejected, not queued, when the account
 * cannot pay for the kind (`ERROR_ZERO_BALANCE`) or all its threads hold tasks
 * (the configured busy code, `ERROR_NO_SLOT_AVAILABLE` by default).
 */
import type { Account, AccountStore, KeyCheck } from './accounts';
import type { TaskSpec } from './spec';
import type { Stats } from './stats';
import { parseTaskId, type Task, type TaskStore } from './tasks';

export type BusyCode = 'ERROR_NO_SLOT_AVAILABLE' | 'ERROR_ZERO_BALANCE';

export interface ProviderOptions {
  accounts: AccountStore;
  tasks: TaskStore;
  stats: Stats;
  now: () => number;
  busyCode: BusyCode;
  /** Reports are refused this long after the task was submitted. */
  reportWindowMs: number;
}

export type Outcome<T> = T | { code: string };

export const isError = <T extends object>(o: Outcome<T>): o is { code: string } => 'code' in o;

export class Provider {
  constructor(private readonly o: ProviderOptions) {}

  /** Brings every task up to date with the clock; call before reading state. */
  settle(): void {
    this.o.tasks.settle((key) => this.o.accounts.get(key));
  }

  checkKey(key: string | undefined): KeyCheck {
    return this.o.accounts.check(key);
  }

  /** Admits and creates a task, or answers the rejection code. */
  submit(account: Account, spec: TaskSpec, params: Record<string, unknown>, via: Task['via'], ip: string): Outcome<{ task: Task }> {
    this.settle();
    const price = this.o.tasks.priceOf(spec.kind);
    if (account.balance < price) return { code: 'ERROR_ZERO_BALANCE' };
    if (account.busy >= account.threads) return { code: this.o.busyCode };
    const task = this.o.tasks.create(account, spec, params, via, ip);
    this.o.stats.key(account.key).acceptedSubmits++;
    return { task };
  }

  /**
   * The task `idText` of `account`: `ERROR_WRONG_ID_FORMAT` unless all digits,
   * `ERROR_WRONG_CAPTCHA_ID` when unknown or another key's.
   */
  find(account: Account, idText: unknown): Outcome<{ task: Task }> {
    const id = parseTaskId(idText);
    if (id === undefined) return { code: 'ERROR_WRONG_ID_FORMAT' };
    const task = this.o.tasks.get(id);
    if (!task || task.key !== account.key) return { code: 'ERROR_WRONG_CAPTCHA_ID' };
    return { task };
  }

  /** Records a good/bad report: only for solved tasks, once, within the report window. */
  report(task: Task, kind: 'good' | 'bad'): string {
    if (task.report) return 'ERROR_DUPLICATE_REPORT';
    if (task.state !== 'solved' || this.o.now() - task.submittedAt > this.o.reportWindowMs) return 'ERROR_REPORT_NOT_RECORDED';
    task.report = { kind, at: this.o.now() };
    const c = this.o.stats.key(task.key);
    if (kind === 'good') c.reportsGood++;
    else c.reportsBad++;
    return 'OK_REPORT_RECORDED';
  }
}
