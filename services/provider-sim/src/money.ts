/**
 * Money is kept in integer micro-units (1e-6 of the account currency) so that
 * charging thousands of 0.00299 solves leaves an exact balance.
 */

export type Micros = number;

export const toMicros = (amount: number): Micros => Math.round(amount * 1e6);

export const fromMicros = (micros: Micros): number => micros / 1e6;

/** Decimal text without trailing zeros, as 2captcha prints balances and prices: `12.3456`, `0.00299`. */
export function formatMoney(micros: Micros): string {
  const sign = micros < 0 ? '-' : '';
  const abs = Math.abs(micros);
  const whole = Math.floor(abs / 1e6);
  const frac = String(abs % 1e6).padStart(6, '0').replace(/0+$/, '');
  return `${sign}${whole}${frac ? `.${frac}` : ''}`;
}
