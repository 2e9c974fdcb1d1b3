/**
 * Translation between the protocols and solvestream tasks (captcha-protocols.md §2.4):
 *
 *   v1 in.php                          JSON API task.type                        solvestream type
 *   method=userrecaptcha               RecaptchaV2Task(Proxyless), NoCaptcha*,   recaptcha_v2
 *                                      RecaptchaV2EnterpriseTask(Proxyless)
 *   method=userrecaptcha&version=v3    RecaptchaV3TaskProxyless, *EnterpriseTask  recaptcha_v3
 *   method=hcaptcha                    HCaptchaTask(Proxyless)                   hcaptcha
 *   method=turnstile                   TurnstileTask(Proxyless)                  turnstile
 *   method=base64 | post (+file)       ImageToTextTask                           image
 *
 * Params are checked here first for what each protocol has a specific code for
 * (pageurl, sitekey, image size, proxy), then by the same schema REST uses
 * (`parseTaskSpec`); a schema failure is mapped by the field it names. Unknown params
 * are ignored (the clients always send `soft_id`, `header_acao`, …).
 */
import {
  IMAGE_MAX_BYTES,
  IMAGE_MIN_BYTES,
  PRIORITIES,
  ValidationError,
  parseTaskSpec,
  type Priority,
  type Solution,
  type TaskSpec,
  type TaskType,
} from '@solvestream/contracts';
import { GatewayError } from './codes';
import { flag, num, str, type Params } from './params';

type Proto = 'v1' | 'json';
type Raw = Record<string, unknown>;

/** Codes per protocol for the failures both share. */
const CODES: Record<Proto, Record<'pageurl' | 'nokey' | 'badkey' | 'proxy' | 'small' | 'big' | 'upload' | 'params', string>> = {
  v1: {
    pageurl: 'ERROR_PAGEURL', nokey: 'ERROR_WRONG_GOOGLEKEY', badkey: 'ERROR_GOOGLEKEY', proxy: 'ERROR_PROXY_FORMAT',
    small: 'ERROR_ZERO_CAPTCHA_FILESIZE', big: 'ERROR_TOO_BIG_CAPTCHA_FILESIZE', upload: 'ERROR_UPLOAD', params: 'ERROR_BAD_PARAMETERS',
  },
  json: {
    pageurl: 'ERROR_PAGEURL', nokey: 'ERROR_RECAPTCHA_INVALID_SITEKEY', badkey: 'ERROR_RECAPTCHA_INVALID_SITEKEY', proxy: 'ERROR_PROXY_FORMAT',
    small: 'ERROR_ZERO_CAPTCHA_FILESIZE', big: 'ERROR_TOO_BIG_CAPTCHA_FILESIZE', upload: 'ERROR_IMAGE_TYPE_NOT_SUPPORTED', params: 'ERROR_BAD_PARAMETERS',
  },
};

const BASE64_RE = /^[A-Za-z0-9+/\r\n]+={0,2}$/;

/** Validates `params` for `type`, mapping every failure onto the protocol's codes. */
function finish(proto: Proto, type: TaskType, params: Raw): TaskSpec {
  const c = CODES[proto];
  const p = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined));
  if (type === 'image') {
    const body = p.body;
    if (typeof body !== 'string' || body.length === 0) throw new GatewayError(c.small, 'no image');
    if (body.startsWith('data:') || !BASE64_RE.test(body)) throw new GatewayError(c.upload, 'the image is not plain base64');
    const bytes = Buffer.byteLength(body, 'base64');
    if (bytes < IMAGE_MIN_BYTES) throw new GatewayError(c.small, `${bytes} bytes`);
    if (bytes > IMAGE_MAX_BYTES) throw new GatewayError(c.big, `${bytes} bytes`);
  } else {
    const url = p.websiteURL;
    if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) throw new GatewayError(c.pageurl);
    if (typeof p.websiteKey !== 'string') throw new GatewayError(c.nokey);
  }
  try {
    return parseTaskSpec(type, p);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    const f = err.field;
    if (f === 'params.websiteURL') throw new GatewayError(c.pageurl, err.message);
    if (f === 'params.websiteKey') throw new GatewayError(c.badkey, err.message);
    if (f.startsWith('params.proxy')) throw new GatewayError(c.proxy, err.message);
    if (f === 'params.body') throw new GatewayError(c.upload, err.message);
    throw new GatewayError(c.params, err.message);
  }
}

const PROXY_TYPES = new Set(['http', 'https', 'socks4', 'socks5']);

/** v1 `proxy=[login:password@]host:port` + `proxytype` → the task's proxy object. */
function v1Proxy(p: Params): Raw | undefined {
  const raw = str(p, 'proxy');
  if (raw === undefined) return undefined;
  const m = /^(?:([^:@]*):([^@]*)@)?([^:@\s]+):(\d{1,5})$/.exec(raw);
  const type = (str(p, 'proxytype') ?? 'http').toLowerCase();
  if (!m || !PROXY_TYPES.has(type)) throw new GatewayError('ERROR_PROXY_FORMAT');
  const proxy: Raw = { type, address: m[3], port: Number(m[4]) };
  if (m[1]) proxy.login = m[1];
  if (m[2]) proxy.password = m[2];
  return proxy;
}

const optNum = (p: Params, name: string): number | undefined => {
  const n = num(p, name);
  if (n !== undefined && Number.isNaN(n)) throw new GatewayError('ERROR_BAD_PARAMETERS', `${name} must be a number`);
  return n;
};
const on = (b: boolean | undefined): true | undefined => (b ? true : undefined);

/** in.php params → a task. Throws GatewayError with the v1 code. */
export function v1TaskSpec(p: Params): TaskSpec {
  const method = (str(p, 'method') ?? '').toLowerCase();
  const sitekey = str(p, 'googlekey') ?? str(p, 'sitekey');
  const common = { websiteURL: str(p, 'pageurl'), websiteKey: sitekey };
  switch (method) {
    case 'userrecaptcha': {
      if ((str(p, 'version') ?? '').toLowerCase() === 'v3') {
        return finish('v1', 'recaptcha_v3', {
          ...common, pageAction: str(p, 'action'), minScore: optNum(p, 'min_score'), isEnterprise: on(flag(p, 'enterprise')), apiDomain: str(p, 'domain'),
        });
      }
      return finish('v1', 'recaptcha_v2', {
        ...common, isInvisible: on(flag(p, 'invisible')), isEnterprise: on(flag(p, 'enterprise')), dataS: str(p, 'data-s'),
        apiDomain: str(p, 'domain'), userAgent: str(p, 'userAgent') ?? str(p, 'useragent'), cookies: str(p, 'cookies'), proxy: v1Proxy(p),
      });
    }
    case 'hcaptcha':
      return finish('v1', 'hcaptcha', {
        ...common, isInvisible: on(flag(p, 'invisible')), data: str(p, 'data'), userAgent: str(p, 'userAgent') ?? str(p, 'useragent'), proxy: v1Proxy(p),
      });
    case 'turnstile':
      return finish('v1', 'turnstile', {
        ...common, action: str(p, 'action'), cData: str(p, 'data'), pageData: str(p, 'pagedata'), userAgent: str(p, 'userAgent') ?? str(p, 'useragent'), proxy: v1Proxy(p),
      });
    case 'base64':
    case 'post': {
      let body = str(p, 'body');
      const file = p.get('file');
      if (method === 'post') body = Buffer.isBuffer(file) ? file.toString('base64') : undefined;
      return finish('v1', 'image', {
        body, phrase: on(flag(p, 'phrase')), case: on(flag(p, 'regsense')), numeric: optNum(p, 'numeric'), math: on(flag(p, 'calc')),
        minLength: optNum(p, 'min_len'), maxLength: optNum(p, 'max_len'), comment: str(p, 'textinstructions'),
      });
    }
    case '':
      throw new GatewayError('ERROR_BAD_PARAMETERS', p.has('textcaptcha') ? 'text captchas are not supported' : 'method is missing');
    default:
      throw new GatewayError('ERROR_BAD_PARAMETERS', `method ${method.slice(0, 40)} is not supported`);
  }
}

/** The optional, non-standard `priority` param; else the tenant's gateway priority. */
export function gatewayPriority(value: unknown, fallback: Priority, code: string): Priority {
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value !== 'string' || !(PRIORITIES as readonly string[]).includes(value)) throw new GatewayError(code, `priority must be one of ${PRIORITIES.join(', ')}`);
  return value as Priority;
}

const JSON_TYPES: Record<string, { type: TaskType; proxy: boolean; enterprise?: true }> = {
  recaptchav2taskproxyless: { type: 'recaptcha_v2', proxy: false },
  nocaptchataskproxyless: { type: 'recaptcha_v2', proxy: false },
  recaptchav2task: { type: 'recaptcha_v2', proxy: true },
  nocaptchatask: { type: 'recaptcha_v2', proxy: true },
  recaptchav2enterprisetaskproxyless: { type: 'recaptcha_v2', proxy: false, enterprise: true },
  recaptchav2enterprisetask: { type: 'recaptcha_v2', proxy: true, enterprise: true },
  recaptchav3taskproxyless: { type: 'recaptcha_v3', proxy: false },
  recaptchav3enterprisetask: { type: 'recaptcha_v3', proxy: false, enterprise: true },
  hcaptchataskproxyless: { type: 'hcaptcha', proxy: false },
  hcaptchatask: { type: 'hcaptcha', proxy: true },
  turnstiletaskproxyless: { type: 'turnstile', proxy: false },
  turnstiletask: { type: 'turnstile', proxy: true },
  imagetotexttask: { type: 'image', proxy: false },
};

const s = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined);
const b = (v: unknown): true | undefined => (v === true || v === 1 || v === '1' || v === 'true' ? true : undefined);
const n = (v: unknown, name: string): number | undefined => {
  if (v === undefined || v === null || v === '') return undefined;
  const x = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : Number.NaN;
  if (Number.isNaN(x)) throw new GatewayError('ERROR_BAD_PARAMETERS', `${name} must be a number`);
  return x;
};

function jsonProxy(t: Raw): Raw {
  const address = s(t.proxyAddress);
  const port = n(t.proxyPort, 'proxyPort');
  const type = (s(t.proxyType) ?? 'http').toLowerCase();
  if (!address || port === undefined || !PROXY_TYPES.has(type)) throw new GatewayError('ERROR_BAD_PARAMETERS', 'a proxy task needs proxyType, proxyAddress and proxyPort');
  const proxy: Raw = { type, address, port };
  if (s(t.proxyLogin)) proxy.login = s(t.proxyLogin);
  if (s(t.proxyPassword)) proxy.password = s(t.proxyPassword);
  return proxy;
}

/** createTask's `task` object → a task. Throws GatewayError with the JSON API's code. */
export function jsonTaskSpec(task: unknown): TaskSpec {
  if (typeof task !== 'object' || task === null || Array.isArray(task)) throw new GatewayError('ERROR_TASK_ABSENT');
  const t = task as Raw;
  const kind = JSON_TYPES[(s(t.type) ?? '').toLowerCase()];
  if (!kind) throw new GatewayError('ERROR_TASK_NOT_SUPPORTED', s(t.type)?.slice(0, 60));
  const common = { websiteURL: s(t.websiteURL), websiteKey: s(t.websiteKey) };
  const proxy = kind.proxy ? jsonProxy(t) : undefined;
  const ua = s(t.userAgent);
  switch (kind.type) {
    case 'recaptcha_v2':
      return finish('json', 'recaptcha_v2', {
        ...common, isInvisible: b(t.isInvisible), isEnterprise: kind.enterprise ?? b(t.isEnterprise), dataS: s(t.recaptchaDataSValue),
        apiDomain: s(t.apiDomain), userAgent: ua, cookies: s(t.cookies), proxy,
      });
    case 'recaptcha_v3':
      return finish('json', 'recaptcha_v3', {
        ...common, pageAction: s(t.pageAction), minScore: n(t.minScore, 'minScore'), isEnterprise: kind.enterprise ?? b(t.isEnterprise), apiDomain: s(t.apiDomain),
      });
    case 'hcaptcha':
      return finish('json', 'hcaptcha', { ...common, isInvisible: b(t.isInvisible), data: s(t.data), userAgent: ua, proxy });
    case 'turnstile':
      return finish('json', 'turnstile', {
        ...common, action: s(t.action), cData: s(t.cData) ?? s(t.turnstileCData), pageData: s(t.chlPageData), userAgent: ua, proxy,
      });
    case 'image':
      return finish('json', 'image', {
        body: s(t.body), phrase: b(t.phrase), case: b(t.case), numeric: n(t.numeric, 'numeric'), math: b(t.math),
        minLength: n(t.minLength, 'minLength'), maxLength: n(t.maxLength, 'maxLength'), comment: s(t.comment),
      });
  }
}

/** The answer string of a solved task (token, or the image's text). */
export function answerOf(solution: Solution | undefined): string {
  return solution?.token ?? solution?.text ?? '';
}

/** Extra v1 JSON fields of a solved task (Turnstile/hCaptcha user agent, hCaptcha respKey). */
export function v1Extras(type: TaskType, solution: Solution | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if ((type === 'turnstile' || type === 'hcaptcha') && solution?.userAgent) out.useragent = solution.userAgent;
  if (type === 'hcaptcha' && solution?.respKey) out.respKey = solution.respKey;
  return out;
}

/** The JSON API's `solution` object per type. */
export function jsonSolution(type: TaskType, solution: Solution | undefined): Record<string, string> {
  const token = solution?.token ?? '';
  switch (type) {
    case 'image':
      return { text: solution?.text ?? '' };
    case 'recaptcha_v2':
    case 'recaptcha_v3':
      return { gRecaptchaResponse: token, token };
    case 'hcaptcha':
      return { gRecaptchaResponse: token, token, ...(solution?.respKey ? { respKey: solution.respKey } : {}), ...(solution?.userAgent ? { userAgent: solution.userAgent } : {}) };
    case 'turnstile':
      return { token, ...(solution?.userAgent ? { userAgent: solution.userAgent } : {}) };
  }
}

