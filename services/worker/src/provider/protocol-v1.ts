/**
 * The 2captcha v1 protocol (`in.php` / `res.php`) as spoken by CaptchaAI, 2captcha and
 * rucaptcha: mapping of our task params onto `in.php` fields, and parsing of answers.
 * Pure functions; the HTTP lives in `client.ts`. Facts: captcha-protocols.md §1.
 */
import type { Solution, TaskSpec } from '@solvestream/contracts';

type Form = Record<string, string>;
const flag = (v: boolean | undefined): string | undefined => (v ? '1' : undefined);

function proxyFields(p: { type: string; address: string; port: number; login?: string; password?: string } | undefined): Form {
  if (!p) return {};
  const auth = p.login ? `${p.login}:${p.password ?? ''}@` : '';
  return { proxy: `${auth}${p.address}:${p.port}`, proxytype: p.type.toUpperCase() };
}

function compact(f: Record<string, string | number | undefined>): Form {
  const out: Form = {};
  for (const [k, v] of Object.entries(f)) if (v !== undefined && v !== '') out[k] = String(v);
  return out;
}

/** `in.php` fields for one task (without `key` and `json`). */
export function submitFields(spec: TaskSpec): Form {
  switch (spec.type) {
    case 'recaptcha_v2': {
      const p = spec.params;
      return compact({
        method: 'userrecaptcha', googlekey: p.websiteKey, pageurl: p.websiteURL,
        invisible: flag(p.isInvisible), enterprise: flag(p.isEnterprise), 'data-s': p.dataS,
        domain: p.apiDomain, userAgent: p.userAgent, cookies: p.cookies, ...proxyFields(p.proxy),
      });
    }
    case 'recaptcha_v3': {
      const p = spec.params;
      return compact({
        method: 'userrecaptcha', version: 'v3', googlekey: p.websiteKey, pageurl: p.websiteURL,
        action: p.pageAction ?? 'verify', min_score: p.minScore, enterprise: flag(p.isEnterprise), domain: p.apiDomain,
      });
    }
    case 'hcaptcha': {
      const p = spec.params;
      return compact({
        method: 'hcaptcha', sitekey: p.websiteKey, pageurl: p.websiteURL, invisible: flag(p.isInvisible),
        data: p.data, userAgent: p.userAgent, ...proxyFields(p.proxy),
      });
    }
    case 'turnstile': {
      const p = spec.params;
      return compact({
        method: 'turnstile', sitekey: p.websiteKey, pageurl: p.websiteURL, action: p.action,
        data: p.cData, pagedata: p.pageData, userAgent: p.userAgent, ...proxyFields(p.proxy),
      });
    }
    case 'image': {
      const p = spec.params;
      return compact({
        method: 'base64', body: p.body, phrase: flag(p.phrase), regsense: flag(p.case), numeric: p.numeric,
        calc: flag(p.math), min_len: p.minLength, max_len: p.maxLength, textinstructions: p.comment,
      });
    }
  }
}

/** Types whose answer has extra fields (user agent, respKey) that the multi-id get drops. */
export function needsSingleGet(spec: TaskSpec): boolean {
  if (spec.type === 'hcaptcha') return spec.params.data !== undefined;
  if (spec.type === 'turnstile') return spec.params.cData !== undefined || spec.params.pageData !== undefined;
  return false;
}

export type V1Reply = { ok: true; request: string; extra: Record<string, unknown> } | { ok: false; code: string; text?: string };

/**
 * Parses a `json=1` answer `{"status":1,"request":"…",…}`. `request` may be a number
 * (CaptchaAI ids). Returns undefined for anything that is not that shape.
 */
export function parseJsonReply(body: string): V1Reply | undefined {
  let j: unknown;
  try {
    j = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof j !== 'object' || j === null) return undefined;
  const { status, request, error_text, ...extra } = j as Record<string, unknown>;
  if (typeof request !== 'string' && typeof request !== 'number') return undefined;
  const req = String(request);
  if (Number(status) === 1) return { ok: true, request: req, extra };
  if (Number(status) === 0) return { ok: false, code: req, text: typeof error_text === 'string' ? error_text : undefined };
  return undefined;
}

export const NOT_READY = 'CAPCHA_NOT_READY';

/** Builds our Solution from a v1 answer and its extra JSON fields. */
export function toSolution(spec: TaskSpec['type'], answer: string, extra: Record<string, unknown> = {}): Solution {
  const s: Solution = spec === 'image' ? { text: answer } : { token: answer };
  const ua = extra.useragent ?? extra.userAgent ?? extra.user_agent;
  if (typeof ua === 'string') s.userAgent = ua;
  if (typeof extra.respKey === 'string') s.respKey = extra.respKey;
  return s;
}

/** True when `s` looks like a provider task id (all digits, fits a JS number). */
export function isProviderId(s: string): boolean {
  return /^\d{1,16}$/.test(s) && Number.isSafeInteger(Number(s));
}
