/**
 * Real-looking answers. Nothing checks these tokens; they only need the shape
 * clients and gateways expect: reCAPTCHA `03A…` (~500 chars), Turnstile `0.…`
 * plus the solver's user agent, hCaptcha `P1_…` plus `respKey` and user agent,
 * image answers as short text honouring `numeric` / `min_len` / `max_len`.
 */
import { intBetween, randomString, type Random } from './rng';
import type { ImageSpec, TaskSpec } from './spec';

export interface Solution {
  /** The token or text: v1 `request`, JSON `gRecaptchaResponse` / `token` / `text`. */
  answer: string;
  userAgent?: string;
  respKey?: string;
}

export const SOLVER_USER_AGENT =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

const URLSAFE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const DIGITS = '0123456789';
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

function imageText(random: Random, image: ImageSpec): string {
  const min = image.minLen > 0 ? image.minLen : 4;
  const max = Math.max(min, image.maxLen > 0 ? image.maxLen : 7);
  const length = intBetween(random, min, Math.min(max, min + 3));
  switch (image.numeric) {
    case 1:
      return randomString(random, DIGITS, length);
    case 2:
      return randomString(random, LETTERS, length);
    case 4: {
      // Must contain both: one digit, one letter, the rest from either.
      const rest = randomString(random, DIGITS + LETTERS, Math.max(0, length - 2));
      return randomString(random, LETTERS, 1) + rest + randomString(random, DIGITS, 1);
    }
    default:
      return randomString(random, DIGITS + LETTERS, length);
  }
}

/** A fresh solution for `spec`. */
export function makeSolution(spec: TaskSpec, random: Random): Solution {
  const userAgent = spec.userAgent ?? SOLVER_USER_AGENT;
  switch (spec.kind) {
    case 'recaptcha_v2':
    case 'recaptcha_v3':
      return { answer: `03A${randomString(random, URLSAFE, intBetween(random, 470, 560))}` };
    case 'turnstile':
      return { answer: `0.${randomString(random, URLSAFE + '.', intBetween(random, 300, 700))}`, userAgent };
    case 'hcaptcha':
      return {
        answer: `P1_eyJ${randomString(random, URLSAFE, intBetween(random, 900, 1400))}`,
        respKey: `E0_eyJ${randomString(random, URLSAFE, intBetween(random, 180, 260))}`,
        userAgent,
      };
    case 'image':
      return { answer: imageText(random, spec.image ?? { bytes: 0, sha256: '', numeric: 0, minLen: 0, maxLen: 0 }) };
  }
}
