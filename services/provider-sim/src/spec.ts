/**
 * The canonical description of one CAPTCHA, whichever protocol submitted it.
 *
 * Both the v1 parser (`method=userrecaptcha&googlekey=…`) and the JSON-API parser
 * (`{"type":"RecaptchaV2TaskProxyless","websiteKey":…}`) produce a {@link TaskSpec};
 * its {@link fingerprint} is what `/admin/duplicates` groups by, so the same CAPTCHA
 * submitted twice — over either protocol, with any key — is caught.
 */
import { createHash } from 'node:crypto';
import type { TaskKind } from './kinds';

export interface ImageSpec {
  bytes: number;
  sha256: string;
  /** 0 any, 1 digits only, 2 letters only, 3 digits or letters, 4 both (v1 `numeric`). */
  numeric: number;
  minLen: number;
  maxLen: number;
}

export interface TaskSpec {
  kind: TaskKind;
  pageurl?: string;
  sitekey?: string;
  enterprise: boolean;
  invisible: boolean;
  /** reCAPTCHA v3 / Turnstile action. */
  action?: string;
  minScore?: number;
  /** The user agent the client asked the solver to use (echoed back for Turnstile/hCaptcha). */
  userAgent?: string;
  proxy?: string;
  image?: ImageSpec;
}

/** A short stable hash of what identifies the CAPTCHA (not transport details, not the key). */
export function fingerprint(spec: TaskSpec): string {
  const identity = [spec.kind, spec.pageurl ?? '', spec.sitekey ?? '', spec.action ?? '', spec.enterprise, spec.invisible, spec.image?.sha256 ?? ''];
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 16);
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes a base64 image body strictly (no `data:` prefix; whitespace is ignored).
 * Returns undefined when the text is not valid base64.
 */
export function decodeBase64(text: string): Buffer | undefined {
  const clean = text.replace(/\s+/g, '');
  if (!BASE64.test(clean) || clean.length % 4 === 1) return undefined;
  return Buffer.from(clean, 'base64');
}

export interface ImageLimits {
  minBytes: number;
  maxBytes: number;
}

/** Size checks shared by every image upload path; returns the v1 error code or the image spec. */
export function checkImage(
  bytes: Buffer | undefined,
  limits: ImageLimits,
  answer: { numeric: number; minLen: number; maxLen: number },
  /** The upload was cut off at the read limit, so it is too big whatever `bytes` holds. */
  truncated = false,
): { code: string } | { image: ImageSpec } {
  if (bytes === undefined) return { code: 'ERROR_UPLOAD' };
  if (truncated || bytes.length > limits.maxBytes) return { code: 'ERROR_TOO_BIG_CAPTCHA_FILESIZE' };
  if (bytes.length < limits.minBytes) return { code: 'ERROR_ZERO_CAPTCHA_FILESIZE' };
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return { image: { bytes: bytes.length, sha256, ...answer } };
}
