/**
 * Response bodies: v1 plain/JSON answers, JSON-API envelopes, and the broken
 * answers that fault injection sends (HTML error pages, nonsense).
 *
 * v1 answers (captcha-protocols.md §1.2, §1.4):
 *   accepted / solved   plain `OK|<x>`            json `{"status":1,"request":"<x>",…extra}`
 *   multi-get, balance, report: plain `<x>` (no `OK|`), json `{"status":1,"request":"<x>"}`
 *   not ready           plain `CAPCHA_NOT_READY`  json `{"status":0,"request":"CAPCHA_NOT_READY"}`
 *   error               plain `<CODE>`            json `{"status":0,"request":"<CODE>","error_text":"…"}`
 * API errors are HTTP 200.
 */
import { errorText } from './errors';
import type { NonsenseRule } from './fault-config';
import { randomString, type Random } from './rng';

export const NOT_READY = 'CAPCHA_NOT_READY';

export interface Rendered {
  status: number;
  contentType: string;
  body: string;
  /** The error code this body carries, for the per-key error counters. */
  errorCode?: string;
}

export interface V1Answer {
  status: 0 | 1;
  request: string | number;
  /** The plain-text form. */
  plain: string;
  /** Extra JSON fields (`useragent`, `respKey`, `price`). */
  extra?: Record<string, string>;
}

export const v1 = {
  /** Accepted submit or solved get: plain `OK|<request>` unless `plain` says otherwise. */
  ok: (request: string | number, extra?: Record<string, string>, plain = `OK|${request}`): V1Answer => ({ status: 1, request, plain, extra }),
  /** An answer without the `OK|` prefix (multi-get, balance, report). */
  bare: (request: string): V1Answer => ({ status: 1, request, plain: request }),
  error: (code: string): V1Answer => ({ status: 0, request: code, plain: code }),
};

export function renderV1(answer: V1Answer, json: boolean): Rendered {
  const errorCode = answer.status === 0 && answer.request !== NOT_READY ? String(answer.request) : undefined;
  if (!json) return { status: 200, contentType: 'text/plain; charset=utf-8', body: answer.plain, errorCode };
  const body: Record<string, unknown> = { status: answer.status, request: answer.request, ...answer.extra };
  if (errorCode !== undefined) body.error_text = errorText(errorCode);
  return { status: 200, contentType: 'application/json; charset=utf-8', body: JSON.stringify(body), errorCode };
}

export function renderJson(value: object, errorCode?: string): Rendered {
  return { status: 200, contentType: 'application/json; charset=utf-8', body: JSON.stringify(value), errorCode };
}

const REASONS: Record<number, string> = { 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Temporarily Unavailable', 504: 'Gateway Time-out' };

/** The kind of HTML page a reverse proxy in front of a provider answers during an outage. */
export function renderHttpError(status: number): Rendered {
  const title = `${status} ${REASONS[status] ?? 'Error'}`;
  const body = `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
  return { status, contentType: 'text/html', body };
}

const GARBAGE = [
  () => '<!DOCTYPE html><html><body><h1>Site under maintenance</h1></body></html>',
  () => 'OK|',
  () => '{"status":',
  (r: Random) => randomString(r, 'abcdefXYZ0123456789|{}<>"%$#@!', 8 + Math.floor(r() * 40)),
];

/**
 * A nonsense body: `garbage` (HTML, a bare `OK|`, random bytes…), `truncated-json`
 * (the real answer cut in half, or the start of a v1 JSON answer), or `empty`.
 */
export function renderNonsense(rule: NonsenseRule, random: Random, wouldBe?: Rendered): Rendered {
  const base = { status: 200, contentType: 'text/plain; charset=utf-8' };
  switch (rule.kind) {
    case 'empty':
      return { ...base, body: '' };
    case 'truncated-json': {
      const whole = wouldBe && wouldBe.body.length > 1 ? wouldBe.body : '{"status":1,"request":"1234567890123"}';
      return { ...base, contentType: 'application/json; charset=utf-8', body: whole.slice(0, Math.max(1, Math.floor(whole.length / 2))) };
    }
    case 'garbage': {
      const pick = GARBAGE[Math.floor(random() * GARBAGE.length)] ?? GARBAGE[0]!;
      return { ...base, body: pick(random) };
    }
  }
}
