/**
 * The CAPTCHA task types solvestream accepts and the schema of each one's params.
 *
 * Field names follow the JSON task API (`websiteURL`, `websiteKey`, …) that
 * anti-captcha and 2captcha v2 clients already use; the worker maps them onto the
 * provider's v1 `in.php` parameters. Schemas are TypeBox, so the same object is a
 * JSON Schema (documentation, OpenAPI) and a compiled runtime check.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

export const TASK_TYPES = ['recaptcha_v2', 'recaptcha_v3', 'hcaptcha', 'turnstile', 'image'] as const;
export type TaskType = (typeof TASK_TYPES)[number];

/** Image limits from the providers' docs: below 100 bytes or above 600 kB is refused upstream. */
export const IMAGE_MIN_BYTES = 100;
export const IMAGE_MAX_BYTES = 600 * 1024;

const Url = Type.String({ minLength: 1, maxLength: 2048, pattern: '^https?://', description: 'Full URL of the page showing the CAPTCHA' });
const SiteKey = Type.String({ minLength: 1, maxLength: 256, pattern: '^[A-Za-z0-9_.:-]+$', description: 'The site key (data-sitekey)' });
const UserAgent = Type.String({ minLength: 1, maxLength: 1024 });
const Proxy = Type.Object(
  {
    type: Type.Union([Type.Literal('http'), Type.Literal('https'), Type.Literal('socks4'), Type.Literal('socks5')]),
    address: Type.String({ minLength: 1, maxLength: 255 }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    login: Type.Optional(Type.String({ maxLength: 255 })),
    password: Type.Optional(Type.String({ maxLength: 255, description: 'Secret: redacted from logs' })),
  },
  { additionalProperties: false },
);

export const RecaptchaV2Params = Type.Object(
  {
    websiteURL: Url,
    websiteKey: SiteKey,
    isInvisible: Type.Optional(Type.Boolean()),
    isEnterprise: Type.Optional(Type.Boolean()),
    dataS: Type.Optional(Type.String({ maxLength: 4096, description: 'data-s value' })),
    apiDomain: Type.Optional(Type.Union([Type.Literal('google.com'), Type.Literal('recaptcha.net')])),
    userAgent: Type.Optional(UserAgent),
    cookies: Type.Optional(Type.String({ maxLength: 8192 })),
    proxy: Type.Optional(Proxy),
  },
  { additionalProperties: false },
);

export const RecaptchaV3Params = Type.Object(
  {
    websiteURL: Url,
    websiteKey: SiteKey,
    pageAction: Type.Optional(Type.String({ minLength: 1, maxLength: 128, default: 'verify' })),
    minScore: Type.Optional(Type.Number({ minimum: 0.1, maximum: 0.9 })),
    isEnterprise: Type.Optional(Type.Boolean()),
    apiDomain: Type.Optional(Type.Union([Type.Literal('google.com'), Type.Literal('recaptcha.net')])),
  },
  { additionalProperties: false },
);

export const HcaptchaParams = Type.Object(
  {
    websiteURL: Url,
    websiteKey: SiteKey,
    isInvisible: Type.Optional(Type.Boolean()),
    data: Type.Optional(Type.String({ maxLength: 8192, description: 'rqdata; requires userAgent' })),
    userAgent: Type.Optional(UserAgent),
    proxy: Type.Optional(Proxy),
  },
  { additionalProperties: false },
);

export const TurnstileParams = Type.Object(
  {
    websiteURL: Url,
    websiteKey: SiteKey,
    action: Type.Optional(Type.String({ maxLength: 128 })),
    cData: Type.Optional(Type.String({ maxLength: 4096 })),
    pageData: Type.Optional(Type.String({ maxLength: 8192 })),
    userAgent: Type.Optional(UserAgent),
    proxy: Type.Optional(Proxy),
  },
  { additionalProperties: false },
);

export const ImageParams = Type.Object(
  {
    body: Type.String({ minLength: 1, maxLength: Math.ceil((IMAGE_MAX_BYTES * 4) / 3) + 4, description: 'Base64 image, no data: prefix' }),
    phrase: Type.Optional(Type.Boolean()),
    case: Type.Optional(Type.Boolean()),
    numeric: Type.Optional(Type.Integer({ minimum: 0, maximum: 4 })),
    math: Type.Optional(Type.Boolean()),
    minLength: Type.Optional(Type.Integer({ minimum: 0, maximum: 20 })),
    maxLength: Type.Optional(Type.Integer({ minimum: 0, maximum: 20 })),
    comment: Type.Optional(Type.String({ maxLength: 140 })),
  },
  { additionalProperties: false },
);

export const PARAM_SCHEMAS = {
  recaptcha_v2: RecaptchaV2Params,
  recaptcha_v3: RecaptchaV3Params,
  hcaptcha: HcaptchaParams,
  turnstile: TurnstileParams,
  image: ImageParams,
} as const satisfies Record<TaskType, TSchema>;

export interface TaskParamsByType {
  recaptcha_v2: Static<typeof RecaptchaV2Params>;
  recaptcha_v3: Static<typeof RecaptchaV3Params>;
  hcaptcha: Static<typeof HcaptchaParams>;
  turnstile: Static<typeof TurnstileParams>;
  image: Static<typeof ImageParams>;
}
export type TaskParams = TaskParamsByType[TaskType];

/** A task type and its params, narrowed together. */
export type TaskSpec = { [T in TaskType]: { type: T; params: TaskParamsByType[T] } }[TaskType];

/** What a solved task hands back. Token types set `token`; image sets `text`. */
export interface Solution {
  token?: string;
  text?: string;
  userAgent?: string;
  respKey?: string;
}

export function isTaskType(value: unknown): value is TaskType {
  return typeof value === 'string' && (TASK_TYPES as readonly string[]).includes(value);
}

/**
 * Default deadline per type, seconds from submit: after it the task fails as
 * `ERROR_CAPTCHA_UNSOLVABLE` so every client gets a final answer (gateway clients
 * never time out on their own). From the providers' own give-up times: 90 s for
 * images, 300 s for reCAPTCHA v2; token types in between.
 */
export const DEFAULT_DEADLINE_SECONDS: Record<TaskType, number> = {
  recaptcha_v2: 300,
  recaptcha_v3: 180,
  hcaptcha: 300,
  turnstile: 180,
  image: 90,
};
