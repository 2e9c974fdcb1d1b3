/**
 * Every provider outcome that is not an answer becomes a `ProviderError` with a class
 * that tells the caller what to do. Classification lives in `classifyCode` only.
 *
 *   retry      transient (server error, network, nonsense body): try again soon
 *   capacity   provider busy or rate-limiting us (no slot, MAX_USER_TURN, ERROR: 100x, 429): back off
 *   failover   this provider cannot take work now (zero balance): another provider may
 *   auth       our key is refused: back off long; a key rotation may fix it
 *   permanent  the task itself cannot succeed (unsolvable, bad sitekey/pageurl, bad image)
 */
import { SolvestreamError } from '@solvestream/contracts';

export type ProviderErrorClass = 'retry' | 'capacity' | 'failover' | 'auth' | 'permanent';

export class ProviderError extends SolvestreamError {
  readonly errorClass: ProviderErrorClass;
  readonly provider: string;
  constructor(provider: string, code: string, errorClass: ProviderErrorClass, message: string, cause?: unknown) {
    super(code, message, { retryable: errorClass !== 'permanent', cause });
    this.name = 'ProviderError';
    this.provider = provider;
    this.errorClass = errorClass;
  }
}

const PERMANENT = new Set([
  'ERROR_CAPTCHA_UNSOLVABLE', 'ERROR_PAGEURL', 'ERROR_WRONG_GOOGLEKEY', 'ERROR_GOOGLEKEY',
  'ERROR_BAD_TOKEN_OR_PAGEURL', 'ERROR_BAD_PARAMETERS', 'ERROR_ZERO_CAPTCHA_FILESIZE',
  'ERROR_TOO_BIG_CAPTCHA_FILESIZE', 'ERROR_WRONG_FILE_EXTENSION', 'ERROR_IMAGE_TYPE_NOT_SUPPORTED',
  'ERROR_UPLOAD', 'ERROR_CAPTCHAIMAGE_BLOCKED', 'ERROR_BAD_PROXY', 'ERROR_PROXY_FORMAT',
  'ERROR_BAD_DUPLICATES', 'ERROR_PROXY_CONNECTION_FAILED', 'ERROR_TOKEN_EXPIRED', 'ERROR_WRONG_CAPTCHA_ID',
  'ERROR_WRONG_ID_FORMAT', 'TOO_MANY_BAD_IMAGES',
  // JSON task API (captcha-protocols.md §2.3)
  'ERROR_NO_SUCH_CAPCHA_ID', 'ERROR_TASK_ABSENT', 'ERROR_TASK_NOT_SUPPORTED', 'ERROR_RECAPTCHA_INVALID_SITEKEY',
  'ERROR_RECAPTCHA_INVALID_DOMAIN', 'ERROR_EMPTY_COMMENT', 'ERROR_INCORRECT_SESSION_DATA', 'ERROR_INVISIBLE_RECAPTCHA',
  'ERROR_VISIBLE_RECAPTCHA', 'ERROR_TASKID_INVALID', 'ERROR_INVALID_TASK_DATA', 'ERROR_NO_SUCH_METHOD',
  // Reports: asking again cannot change the answer
  'ERROR_REPORT_NOT_RECORDED', 'REPORT_NOT_RECORDED', 'ERROR_DUPLICATE_REPORT',
]);
const CAPACITY = new Set(['ERROR_NO_SLOT_AVAILABLE', 'MAX_USER_TURN', 'ERROR_TOO_MUCH_REQUESTS', 'HTTP_429', 'ERROR_RATE_LIMIT']);
const AUTH = new Set([
  'ERROR_WRONG_USER_KEY', 'ERROR_KEY_DOES_NOT_EXIST', 'ERROR_IP_NOT_ALLOWED', 'IP_BANNED', 'ERROR_IP_BLOCKED',
  'ERROR_ACCOUNT_SUSPENDED',
]);

/**
 * @param zeroBalanceIsCapacity CaptchaAI reports "all threads busy" as ERROR_ZERO_BALANCE
 *   (captcha-protocols.md §3); for balance-based providers it means "out of money".
 */
export function classifyCode(code: string, zeroBalanceIsCapacity: boolean): ProviderErrorClass {
  if (PERMANENT.has(code)) return 'permanent';
  if (CAPACITY.has(code) || /^ERROR: ?\d{4}$/.test(code)) return 'capacity';
  if (AUTH.has(code)) return 'auth';
  if (code === 'ERROR_ZERO_BALANCE') return zeroBalanceIsCapacity ? 'capacity' : 'failover';
  return 'retry';
}
