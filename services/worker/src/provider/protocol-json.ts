/**
 * The JSON task API (`createTask` / `getTaskResult` / `getBalance` / report methods) as
 * spoken by anti-captcha, 2captcha API v2 and rucaptcha: mapping of our task params onto
 * `task` objects and parsing of answers (pure functions), and `JsonWire`, the protocol
 * spoken over `ProviderHttp`. Facts: captcha-protocols.md §2.
 *
 * Every answer is HTTP 200 with a numeric `errorId` (0 = OK); errors carry `errorCode`.
 * There is no multi-id poll on this API: the poller polls each id on its own.
 */
import type { SendGuard } from '../send-guard';
import type { Solution, TaskSpec, TaskType } from '@solvestream/contracts';
import type { ProviderHttp } from './http';
import type { PollSlot, ReportVerdict, Wire } from './types';

type Obj = Record<string, unknown>;

function compact(o: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== '') out[k] = v;
  return out;
}

type Proxy = { type: string; address: string; port: number; login?: string; password?: string };
function proxyFields(p: Proxy | undefined): Obj {
  if (!p) return {};
  return { proxyType: p.type, proxyAddress: p.address, proxyPort: p.port, proxyLogin: p.login, proxyPassword: p.password };
}
const typeName = (base: string, proxy: Proxy | undefined): string => (proxy ? base : `${base}Proxyless`);

/** The `task` object of `createTask` for one of our tasks (§2.2 field names). */
export function jsonTask(spec: TaskSpec): Obj {
  switch (spec.type) {
    case 'recaptcha_v2': {
      const p = spec.params;
      return compact({
        type: typeName(p.isEnterprise ? 'RecaptchaV2EnterpriseTask' : 'RecaptchaV2Task', p.proxy),
        websiteURL: p.websiteURL, websiteKey: p.websiteKey, isInvisible: p.isInvisible || undefined,
        recaptchaDataSValue: p.dataS, apiDomain: p.apiDomain, userAgent: p.userAgent, cookies: p.cookies,
        ...proxyFields(p.proxy),
      });
    }
    case 'recaptcha_v3': {
      const p = spec.params;
      return compact({
        type: 'RecaptchaV3TaskProxyless', websiteURL: p.websiteURL, websiteKey: p.websiteKey,
        pageAction: p.pageAction ?? 'verify', minScore: p.minScore, isEnterprise: p.isEnterprise || undefined, apiDomain: p.apiDomain,
      });
    }
    case 'hcaptcha': {
      const p = spec.params;
      return compact({
        type: typeName('HCaptchaTask', p.proxy), websiteURL: p.websiteURL, websiteKey: p.websiteKey,
        isInvisible: p.isInvisible || undefined, enterprisePayload: p.data === undefined ? undefined : { rqdata: p.data },
        userAgent: p.userAgent, ...proxyFields(p.proxy),
      });
    }
    case 'turnstile': {
      const p = spec.params;
      return compact({
        type: typeName('TurnstileTask', p.proxy), websiteURL: p.websiteURL, websiteKey: p.websiteKey,
        action: p.action, cData: p.cData, chlPageData: p.pageData, userAgent: p.userAgent, ...proxyFields(p.proxy),
      });
    }
    case 'image': {
      const p = spec.params;
      return compact({
        type: 'ImageToTextTask', body: p.body, phrase: p.phrase || undefined, case: p.case || undefined,
        numeric: p.numeric, math: p.math || undefined, minLength: p.minLength, maxLength: p.maxLength, comment: p.comment,
      });
    }
  }
}

export type JsonReply = { ok: true; body: Obj } | { ok: false; code: string; text?: string };

/** Parses an answer; undefined when it is not an object with a numeric `errorId`. */
export function parseJsonApiReply(text: string): JsonReply | undefined {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j)) return undefined;
  const body = j as Obj;
  const errorId = typeof body.errorId === 'string' ? Number(body.errorId) : body.errorId;
  if (typeof errorId !== 'number' || !Number.isInteger(errorId)) return undefined;
  if (errorId === 0) return { ok: true, body };
  const code = typeof body.errorCode === 'string' && body.errorCode ? body.errorCode : `ERROR_ID_${errorId}`;
  return { ok: false, code, text: typeof body.errorDescription === 'string' ? body.errorDescription : undefined };
}

/** Our Solution from a `solution` object (reCAPTCHA/hCaptcha `gRecaptchaResponse`, others `token`, image `text`). */
export function solutionFromJson(type: TaskType, s: Obj): Solution | undefined {
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const out: Solution = {};
  if (type === 'image') {
    out.text = str(s.text);
    if (out.text === undefined) return undefined;
  } else {
    out.token = str(s.gRecaptchaResponse) ?? str(s.token);
    if (out.token === undefined) return undefined;
  }
  const ua = str(s.userAgent) ?? str(s.useragent);
  if (ua) out.userAgent = ua;
  const respKey = str(s.respKey);
  if (respKey) out.respKey = respKey;
  return out;
}

/**
 * Report method per type and verdict: anti-captcha's names where they exist (2captcha v2
 * accepts them as aliases), 2captcha v2's generic `reportCorrect`/`reportIncorrect` otherwise.
 */
export function reportMethod(type: TaskType, verdict: ReportVerdict): string {
  if (verdict === 'good') return type === 'recaptcha_v2' || type === 'recaptcha_v3' ? 'reportCorrectRecaptcha' : 'reportCorrect';
  switch (type) {
    case 'image': return 'reportIncorrectImageCaptcha';
    case 'recaptcha_v2':
    case 'recaptcha_v3': return 'reportIncorrectRecaptcha';
    case 'hcaptcha': return 'reportIncorrectHcaptcha';
    case 'turnstile': return 'reportIncorrect';
  }
}

/** Task ids are integers on anti-captcha/2captcha, UUIDs on capsolver. */
const TASK_ID = /^[A-Za-z0-9-]{1,64}$/;
/** Integer ids go back as JSON numbers (anti-captcha clients insist), others as strings. */
const wireId = (id: string): number | string => (/^\d{1,15}$/.test(id) ? Number(id) : id);

export class JsonWire implements Wire {
  readonly multiGet = false;

  constructor(private readonly http: ProviderHttp) {}

  private async call(method: string, fields: Obj, guard?: SendGuard): Promise<JsonReply> {
    const text = await this.http.post(`/${method}`, { json: { clientKey: this.http.key, ...fields } }, guard);
    const reply = parseJsonApiReply(text);
    if (!reply) throw this.http.error('BAD_RESPONSE', `${method} answered something that is not a JSON-API reply: ${JSON.stringify(text.trim().slice(0, 120))}`);
    return reply;
  }

  private refused(method: string, reply: { code: string; text?: string }, what = ''): never {
    throw this.http.error(reply.code, `${method}${what} answered ${reply.code}${reply.text ? ` (${reply.text})` : ''}`);
  }

  async submit(spec: TaskSpec, guard?: SendGuard): Promise<string> {
    const reply = await this.call('createTask', { task: jsonTask(spec) }, guard);
    if (!reply.ok) this.refused('createTask', reply);
    const id = reply.body.taskId;
    if ((typeof id !== 'number' && typeof id !== 'string') || !TASK_ID.test(String(id)) || (typeof id === 'number' && !Number.isSafeInteger(id))) {
      throw this.http.error('BAD_RESPONSE', `createTask answered a malformed taskId ${JSON.stringify(String(id)).slice(0, 40)}`);
    }
    return String(id);
  }

  async getOne(id: string, type: TaskType): Promise<PollSlot> {
    const reply = await this.call('getTaskResult', { taskId: wireId(id) });
    if (!reply.ok) return { state: 'error', error: this.http.error(reply.code, `getTaskResult answered ${reply.code} for ${id}`) };
    const status = reply.body.status;
    if (status === 'processing' || status === 'idle') return { state: 'pending' };
    const solution = status === 'ready' && typeof reply.body.solution === 'object' && reply.body.solution !== null
      ? solutionFromJson(type, reply.body.solution as Obj)
      : undefined;
    if (!solution) throw this.http.error('BAD_RESPONSE', `getTaskResult answered status ${JSON.stringify(status)} without a usable solution for ${id}`);
    return { state: 'ready', solution };
  }

  getMany(): Promise<Map<string, PollSlot>> {
    return Promise.reject(this.http.error('NOT_SUPPORTED', 'the JSON task API has no multi-id poll'));
  }

  async balance(): Promise<number> {
    const reply = await this.call('getBalance', {});
    if (!reply.ok) this.refused('getBalance', reply);
    const n = Number(reply.body.balance);
    if (reply.body.balance === null || reply.body.balance === '' || !Number.isFinite(n)) throw this.http.error('BAD_RESPONSE', 'getBalance answered a non-number');
    return n;
  }

  async report(id: string, type: TaskType, verdict: ReportVerdict): Promise<void> {
    const method = reportMethod(type, verdict);
    const reply = await this.call(method, { taskId: wireId(id) });
    if (!reply.ok) this.refused(method, reply, ` for ${id}`);
  }
}
