/**
 * The 2captcha v1 protocol (`in.php` / `res.php`) as spoken by CaptchaAI, 2captcha and
 * rucaptcha: mapping of our task params onto `in.php` fields and parsing of answers
 * (pure functions), and `V1Wire`, the protocol spoken over `ProviderHttp`.
 * Facts: captcha-protocols.md §1.
 */
import type { SendGuard } from '../send-guard';
import type { Solution, TaskSpec, TaskType } from '@solvestream/contracts';
import type { ProviderHttp } from './http';
import type { PollSlot, ReportVerdict, Wire } from './types';

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

/** Plain-text error codes that still arrive on some errors even with `json=1`. */
const PLAIN_ERROR = /^(ERROR_[A-Z_]+|MAX_USER_TURN|IP_BANNED|ERROR: ?\d{4})$/;
/** A slot of a multi-id answer that is an error code rather than an answer. */
const SLOT_ERROR = /^(ERROR_[A-Z_]+|ERROR: ?\d{4})$/;

/**
 * The v1 protocol over HTTP. Every request is a POST with a form body, so the API key
 * travels in the body and never in a URL (URLs end up in logs and trace attributes).
 */
export class V1Wire implements Wire {
  readonly multiGet: boolean;

  constructor(private readonly http: ProviderHttp, multiGet: boolean) {
    this.multiGet = multiGet;
  }

  /** POSTs a form to `path` and returns the parsed json=1 reply; transport problems throw. */
  private async call(path: '/in.php' | '/res.php', fields: Record<string, string>, guard?: SendGuard): Promise<V1Reply> {
    const text = await this.http.post(path, { form: { ...fields, key: this.http.key, json: '1' } }, guard);
    const reply = parseJsonReply(text);
    if (reply) return reply;
    const plain = text.trim();
    if (PLAIN_ERROR.test(plain)) return { ok: false, code: plain };
    throw this.http.error('BAD_RESPONSE', `${path} answered something that is not a v1 reply: ${JSON.stringify(plain.slice(0, 120))}`);
  }

  async submit(spec: TaskSpec, guard?: SendGuard): Promise<string> {
    const reply = await this.call('/in.php', submitFields(spec), guard);
    if (!reply.ok) throw this.http.error(reply.code, `in.php refused the task: ${reply.code}${reply.text ? ` (${reply.text})` : ''}`);
    if (!isProviderId(reply.request)) throw this.http.error('BAD_RESPONSE', `in.php answered a malformed task id ${JSON.stringify(reply.request.slice(0, 40))}`);
    return reply.request;
  }

  async getOne(id: string, type: TaskType): Promise<PollSlot> {
    const reply = await this.call('/res.php', { action: 'get', id });
    if (reply.ok) return { state: 'ready', solution: toSolution(type, reply.request, reply.extra) };
    if (reply.code === NOT_READY) return { state: 'pending' };
    return { state: 'error', error: this.http.error(reply.code, `res.php answered ${reply.code} for ${id}`) };
  }

  /**
   * `action=get&ids=a,b,c`: the answer lists one slot per id, in order, joined by `|`
   * (captcha-protocols.md §1.4). A per-slot error code is returned in its slot.
   */
  async getMany(ids: readonly string[], types: ReadonlyMap<string, TaskType>): Promise<Map<string, PollSlot>> {
    const reply = await this.call('/res.php', { action: 'get', ids: ids.join(',') });
    const out = new Map<string, PollSlot>();
    if (!reply.ok) {
      if (reply.code === NOT_READY) {
        for (const id of ids) out.set(id, { state: 'pending' });
        return out;
      }
      throw this.http.error(reply.code, `res.php multi-get answered ${reply.code}`);
    }
    const slots = ids.length === 1 ? [reply.request] : reply.request.split('|');
    if (slots.length !== ids.length) {
      throw this.http.error('BAD_RESPONSE', `res.php multi-get answered ${slots.length} slots for ${ids.length} ids`);
    }
    ids.forEach((id, i) => {
      const slot = slots[i] as string;
      if (slot === NOT_READY) out.set(id, { state: 'pending' });
      else if (SLOT_ERROR.test(slot)) out.set(id, { state: 'error', error: this.http.error(slot, `res.php answered ${slot} for ${id}`) });
      else out.set(id, { state: 'ready', solution: toSolution(types.get(id) ?? 'recaptcha_v2', slot.replace(/^OK\|/, '')) });
    });
    return out;
  }

  async balance(): Promise<number> {
    const reply = await this.call('/res.php', { action: 'getbalance' });
    if (!reply.ok) throw this.http.error(reply.code, `getbalance answered ${reply.code}`);
    const n = Number(reply.request);
    if (!Number.isFinite(n)) throw this.http.error('BAD_RESPONSE', 'getbalance answered a non-number');
    return n;
  }

  async report(id: string, _type: TaskType, verdict: ReportVerdict): Promise<void> {
    const action = verdict === 'good' ? 'reportgood' : 'reportbad';
    const reply = await this.call('/res.php', { action, id });
    if (!reply.ok) throw this.http.error(reply.code, `${action} for ${id} answered ${reply.code}`);
    if (reply.request !== 'OK_REPORT_RECORDED') throw this.http.error('BAD_RESPONSE', `${action} answered ${JSON.stringify(reply.request.slice(0, 40))}`);
  }
}
