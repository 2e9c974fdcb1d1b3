/**
 * `in.php` parameters → {@link TaskSpec}, with the v1 validation errors
 * (captcha-protocols.md §1.3, §1.5):
 *
 * | method          | required                          | errors                                            |
 * |-----------------|-----------------------------------|---------------------------------------------------|
 * | `userrecaptcha` | `googlekey` (or `sitekey`), `pageurl` | `ERROR_WRONG_GOOGLEKEY` missing, `ERROR_GOOGLEKEY` blank/malformed, `ERROR_PAGEURL` |
 * |                 | `version=v3` → v3 (`action` default `verify`, `min_score` default 0.4) | |
 * | `hcaptcha`, `turnstile` | `sitekey`, `pageurl`      | as above                                          |
 * | `base64`        | `body` (base64, no `data:` prefix) | `ERROR_UPLOAD` bad base64, `ERROR_ZERO_CAPTCHA_FILESIZE`, `ERROR_TOO_BIG_CAPTCHA_FILESIZE` |
 * | `post`          | multipart `file`                   | as base64                                         |
 * | missing/other   |                                   | `ERROR_BAD_PARAMETERS`                            |
 * A `proxy` other than `[login:password@]host:port` is `ERROR_PROXY_FORMAT`.
 */
import type { UploadedFile, Params } from './params';
import { flag, float, int, str } from './params';
import { checkImage, decodeBase64, type ImageLimits, type TaskSpec } from './spec';

const PROXY = /^([^:@\s]+:[^@\s]+@)?[^:@\s]+:\d{1,5}$/;

/** A sitekey is malformed when blank, when it contains whitespace, or when absurdly long. */
export const isMalformedSitekey = (k: string): boolean => k.trim() === '' || /\s/.test(k) || k.length > 256;

type Parsed = { spec: TaskSpec } | { code: string };

function tokenBase(params: Params, sitekeyNames: string[]): { code: string } | { sitekey: string; pageurl: string } {
  const sitekey = sitekeyNames.map((n) => str(params, n)).find((v) => v !== undefined);
  if (sitekey === undefined) return { code: 'ERROR_WRONG_GOOGLEKEY' };
  if (isMalformedSitekey(sitekey)) return { code: 'ERROR_GOOGLEKEY' };
  const pageurl = str(params, 'pageurl')?.trim();
  if (!pageurl) return { code: 'ERROR_PAGEURL' };
  return { sitekey, pageurl };
}

function common(params: Params): { code: string } | Pick<TaskSpec, 'proxy' | 'userAgent' | 'invisible' | 'enterprise'> {
  const proxy = str(params, 'proxy');
  if (proxy !== undefined && proxy !== '' && !PROXY.test(proxy)) return { code: 'ERROR_PROXY_FORMAT' };
  return {
    proxy: proxy || undefined,
    userAgent: str(params, 'userAgent') ?? str(params, 'useragent'),
    invisible: flag(params, 'invisible'),
    enterprise: flag(params, 'enterprise'),
  };
}

export function parseV1Submit(params: Params, file: UploadedFile | undefined, limits: ImageLimits): Parsed {
  const method = str(params, 'method')?.trim().toLowerCase();
  const extra = common(params);
  if ('code' in extra) return extra;
  switch (method) {
    case 'userrecaptcha': {
      const base = tokenBase(params, ['googlekey', 'sitekey']);
      if ('code' in base) return base;
      const version = str(params, 'version')?.trim().toLowerCase();
      if (version === 'v3' || version === '3') {
        const minScore = Math.min(0.9, Math.max(0.1, float(params, 'min_score', 0.4)));
        return { spec: { kind: 'recaptcha_v3', ...base, ...extra, action: str(params, 'action') || 'verify', minScore } };
      }
      return { spec: { kind: 'recaptcha_v2', ...base, ...extra } };
    }
    case 'hcaptcha':
    case 'turnstile': {
      const base = tokenBase(params, ['sitekey']);
      if ('code' in base) return base;
      const action = method === 'turnstile' ? str(params, 'action') || undefined : undefined;
      return { spec: { kind: method, ...base, ...extra, action } };
    }
    case 'base64':
    case 'post': {
      const bytes = method === 'base64' ? decodeBase64(str(params, 'body') ?? '') : (file?.bytes ?? Buffer.alloc(0));
      const answer = { numeric: int(params, 'numeric', 0), minLen: int(params, 'min_len', 0), maxLen: int(params, 'max_len', 0) };
      const checked = checkImage(bytes, limits, answer, method === 'post' && file?.truncated === true);
      if ('code' in checked) return checked;
      return { spec: { kind: 'image', ...extra, image: checked.image } };
    }
    default:
      return { code: 'ERROR_BAD_PARAMETERS' };
  }
}

/** The parameters kept on the task record: everything but the key, image bytes summarised. */
export function keptParams(params: Params, file: UploadedFile | undefined): Params {
  const kept: Params = { ...params };
  delete kept.key;
  const body = str(kept, 'body');
  if (body !== undefined && body.length > 64) kept.body = `<base64, ${body.length} chars>`;
  if (file) kept.file = `<file, ${file.bytes.length} bytes>`;
  return kept;
}
