/**
 * Provider accounts, one per API key: a balance (2captcha model) and a number of
 * threads (CaptchaAI model). A task holds one thread from its accepted submit
 * until it is solved or found unsolvable; a solve is charged its kind's price.
 *
 * Key rotation (as on 2captcha's account page): `rotate` gives an account a new key;
 * the account, its balance and its tasks stay the same, so tasks submitted with the old
 * key are polled with the new one. With `revokeOld` the old key stops working at once
 * (`ERROR_KEY_DOES_NOT_EXIST`, and auto accounts never recreate it); without it both
 * keys work. `Account.key` stays the account's first key: its identity.
 */
import { formatMoney, fromMicros, toMicros, type Micros } from './money';

/** A well-formed API key: 32 letters or digits. */
export const KEY_PATTERN = /^[A-Za-z0-9]{32}$/;

export interface AccountSeed {
  key: string;
  balance: number;
  threads: number;
}

export interface Account {
  readonly key: string;
  balance: Micros;
  threads: number;
  /** Threads held by in-flight tasks. */
  busy: number;
}

export interface AccountView {
  key: string;
  balance: number;
  threads: number;
  busyThreads: number;
  freeThreads: number;
}

export type KeyCheck = { account: Account } | { code: 'ERROR_WRONG_USER_KEY' | 'ERROR_KEY_DOES_NOT_EXIST' };

export interface AccountStoreOptions {
  seeds: AccountSeed[];
  /** Create an account on first use of any well-formed key. */
  autoAccounts: boolean;
  defaultBalance: number;
  defaultThreads: number;
}

export class AccountStore {
  /** Every working key → its account (after a rotation, several keys share one). */
  private readonly accounts = new Map<string, Account>();
  private readonly revoked = new Set<string>();

  constructor(private readonly options: AccountStoreOptions) {
    this.reset();
  }

  /** Back to the seeded accounts, every thread free. */
  reset(): void {
    this.accounts.clear();
    this.revoked.clear();
    for (const s of this.options.seeds) this.accounts.set(s.key, { key: s.key, balance: toMicros(s.balance), threads: s.threads, busy: 0 });
  }

  /** Resolves a key as the v1 API does: malformed → `ERROR_WRONG_USER_KEY`, unknown → `ERROR_KEY_DOES_NOT_EXIST`. */
  check(key: string | undefined): KeyCheck {
    if (key === undefined || !KEY_PATTERN.test(key)) return { code: 'ERROR_WRONG_USER_KEY' };
    let account = this.accounts.get(key);
    if (!account && this.options.autoAccounts && !this.revoked.has(key)) {
      account = { key, balance: toMicros(this.options.defaultBalance), threads: this.options.defaultThreads, busy: 0 };
      this.accounts.set(key, account);
    }
    return account ? { account } : { code: 'ERROR_KEY_DOES_NOT_EXIST' };
  }

  get(key: string): Account | undefined {
    return this.accounts.get(key);
  }

  /** Creates or updates an account (admin); fields left out keep their value (or the default). */
  upsert(key: string, change: { balance?: number; threads?: number }): Account {
    let account = this.accounts.get(key);
    if (!account) {
      account = { key, balance: toMicros(this.options.defaultBalance), threads: this.options.defaultThreads, busy: 0 };
      this.accounts.set(key, account);
    }
    if (change.balance !== undefined) account.balance = toMicros(change.balance);
    if (change.threads !== undefined) account.threads = change.threads;
    return account;
  }

  list(): Account[] {
    return [...new Set(this.accounts.values())];
  }

  /** Gives the account of `key` the extra key `newKey`; `revokeOld` retires `key`. Undefined when `key` has no account. */
  rotate(key: string, newKey: string, revokeOld: boolean): Account | undefined {
    const account = this.accounts.get(key);
    if (!account) return undefined;
    if (this.accounts.has(newKey) && this.accounts.get(newKey) !== account) throw new Error('the new key already belongs to another account');
    this.accounts.set(newKey, account);
    this.revoked.delete(newKey);
    if (revokeOld && key !== newKey) {
      this.accounts.delete(key);
      this.revoked.add(key);
    }
    return account;
  }
}

export function viewAccount(a: Account): AccountView {
  return { key: a.key, balance: fromMicros(a.balance), threads: a.threads, busyThreads: a.busy, freeThreads: Math.max(0, a.threads - a.busy) };
}

export const balanceText = (a: Account): string => formatMoney(a.balance);
