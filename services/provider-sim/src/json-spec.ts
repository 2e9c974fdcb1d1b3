/**
 * JSON-API `task` objects → {@link TaskSpec} (captcha-protocols.md §2.2).
 *
 * Accepted types (case-insensitive, so capsolver's `…ProxyLess` spelling works too):
 * `RecaptchaV2TaskProxyless`, `RecaptchaV2Task`, `NoCaptchaTaskProxyless`, `NoCaptchaTask`,
 * `RecaptchaV2EnterpriseTaskProxyless`, `RecaptchaV2EnterpriseTask`, `RecaptchaV3TaskProxyless`,
 * `RecaptchaV3EnterpriseTask`, `HCaptchaTaskProxyless`, `HCaptchaTask`,
 * `TurnstileTaskProxyless`, `TurnstileTask`, `ImageToTextTask`.
 * Errors are v1 codes; errors.ts translates them to the JSON-API names and errorIds
 * (missing task 22, unknown type 23, missing/blank websiteKey 31, missing websiteURL 5,
 * proxy task without `proxyAddress`/`proxyPort` 110, image size 3/4, bad base64 15).
 */
import type { TaskKind } from './kinds';
import { flag, float, int, str, type Params } from './params';
import { checkImage, decodeBase64, type ImageLimits, type TaskSpec } from './spec';
import { isMalformedSitekey } from './v1-spec';

interface TypeInfo {
  kind: TaskKind;
  proxy: boolean;
  enterprise?: boolean;
}

const TYPES: Record<string, TypeInfo> = {
  recaptchav2taskproxyless: { kind: 'recaptcha_v2', proxy: false },
  recaptchav2task: { kind: 'recaptcha_v2', proxy: true },
  nocaptchataskproxyless: { kind: 'recaptcha_v2', proxy: false },
  nocaptchatask: { kind: 'recaptcha_v2', proxy: true },
  recaptchav2enterprisetaskproxyless: { kind: 'recaptcha_v2', proxy: false, enterprise: true },
  recaptchav2enterprisetask: { kind: 'recaptcha_v2', proxy: true, enterprise: true },
  recaptchav3taskproxyless: { kind: 'recaptcha_v3', proxy: false },
  recaptchav3enterprisetask: { kind: 'recaptcha_v3', proxy: false, enterprise: true },
  hcaptchataskproxyless: { kind: 'hcaptcha', proxy: false },
  hcaptchatask: { kind: 'hcaptcha', proxy: true },
  turnstiletaskproxyless: { kind: 'turnstile', proxy: false },
  turnstiletask: { kind: 'turnstile', proxy: true },
  imagetotexttask: { kind: 'image', proxy: false },
};

type Parsed = { spec: TaskSpec } | { code: string };

function proxyOf(task: Params): string | undefined | { code: string } {
  const address = str(task, 'proxyAddress');
  const port = str(task, 'proxyPort');
  if (!address || !port) return { code: 'ERROR_BAD_PARAMETERS' };
  const login = str(task, 'proxyLogin');
  const auth = login ? `${login}:${str(task, 'proxyPassword') ?? ''}@` : '';
  return `${auth}${address}:${port}`;
}

export function parseJsonTask(raw: unknown, limits: ImageLimits): Parsed {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { code: 'ERROR_TASK_ABSENT' };
  const task = raw as Params;
  const info = TYPES[(str(task, 'type') ?? '').toLowerCase()];
  if (!info) return { code: 'ERROR_TASK_NOT_SUPPORTED' };
  if (info.kind === 'image') {
    const bytes = typeof task.body === 'string' ? decodeBase64(task.body) : undefined;
    const answer = { numeric: int(task, 'numeric', 0), minLen: int(task, 'minLength', 0), maxLen: int(task, 'maxLength', 0) };
    const checked = checkImage(bytes, limits, answer);
    if ('code' in checked) return checked;
    return { spec: { kind: 'image', enterprise: false, invisible: false, image: checked.image } };
  }
  const sitekey = str(task, 'websiteKey');
  if (sitekey === undefined) return { code: 'ERROR_WRONG_GOOGLEKEY' };
  if (isMalformedSitekey(sitekey)) return { code: 'ERROR_GOOGLEKEY' };
  const pageurl = str(task, 'websiteURL')?.trim();
  if (!pageurl) return { code: 'ERROR_PAGEURL' };
  let proxy: string | undefined;
  if (info.proxy) {
    const p = proxyOf(task);
    if (typeof p === 'object') return p;
    proxy = p;
  }
  const spec: TaskSpec = {
    kind: info.kind,
    pageurl,
    sitekey,
    proxy,
    enterprise: info.enterprise === true || flag(task, 'isEnterprise'),
    invisible: flag(task, 'isInvisible'),
    userAgent: str(task, 'userAgent'),
  };
  if (info.kind === 'recaptcha_v3') {
    spec.action = str(task, 'pageAction') || 'verify';
    spec.minScore = Math.min(0.9, Math.max(0.1, float(task, 'minScore', 0.3)));
  } else if (info.kind === 'turnstile') {
    spec.action = str(task, 'action') || undefined;
  }
  return { spec };
}

/** The task fields kept on the task record, image bytes summarised. */
export function keptTask(raw: unknown): Params {
  const kept: Params = typeof raw === 'object' && raw !== null ? { ...(raw as Params) } : {};
  if (typeof kept.body === 'string' && kept.body.length > 64) kept.body = `<base64, ${kept.body.length} chars>`;
  return kept;
}
