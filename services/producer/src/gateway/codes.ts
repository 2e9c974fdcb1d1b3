/**
 * The protocols' error codes the gateway answers with (captcha-protocols.md §1.5, §2.3),
 * their human text (`error_text` / `errorDescription`) and the JSON API's errorIds.
 * All of them are HTTP 200 answers.
 */

export const V1_TEXT: Record<string, string> = {
  ERROR_WRONG_USER_KEY: 'The key parameter is missing or malformed.',
  ERROR_KEY_DOES_NOT_EXIST: 'The key you provided does not exist (unknown or revoked).',
  ERROR_NO_SLOT_AVAILABLE: 'No slot available: the queue is full or the service only takes higher priorities now. Retry in a few seconds.',
  MAX_USER_TURN: 'Too many submits: over your submit rate. Retry shortly.',
  ERROR_PAGEURL: 'The pageurl parameter is missing or not an http(s) URL.',
  ERROR_WRONG_GOOGLEKEY: 'The googlekey/sitekey parameter is missing.',
  ERROR_GOOGLEKEY: 'The googlekey/sitekey parameter is blank or malformed.',
  ERROR_PROXY_FORMAT: 'The proxy parameter is malformed; use login:password@host:port or host:port.',
  ERROR_ZERO_CAPTCHA_FILESIZE: 'The image is missing or smaller than 100 bytes.',
  ERROR_TOO_BIG_CAPTCHA_FILESIZE: 'The image is larger than 600 kB.',
  ERROR_UPLOAD: 'The image could not be read (invalid base64).',
  ERROR_BAD_PARAMETERS: 'Required parameters are missing or malformed.',
  ERROR_EMPTY_ACTION: 'The action parameter is missing.',
  ERROR_WRONG_ID_FORMAT: 'The id must contain digits only.',
  ERROR_WRONG_CAPTCHA_ID: 'No captcha with this id (unknown, expired or not yours).',
  ERROR_CAPTCHA_UNSOLVABLE: 'The captcha could not be solved in time.',
  ERROR_REPORT_NOT_RECORDED: 'Report not recorded: the captcha is not solved or the report window has passed.',
  ERROR_DUPLICATE_REPORT: 'This captcha was already reported.',
  ERROR_SERVER_ERROR: 'Temporary server error; retry in a few seconds.',
};

/** Failure codes of finished tasks that clients know from res.php; any other reads as unsolvable. */
export const V1_RESULT_CODES = new Set(['ERROR_CAPTCHA_UNSOLVABLE', 'ERROR_BAD_DUPLICATES', 'ERROR_TOKEN_EXPIRED', 'ERROR_PROXY_CONNECTION_FAILED']);

/** anti-captcha numbering, plus 2captcha v2's 5 and 110; 99 for codes neither numbers. */
export const JSON_ERROR_IDS: Record<string, number> = {
  ERROR_KEY_DOES_NOT_EXIST: 1,
  ERROR_NO_SLOT_AVAILABLE: 2,
  ERROR_ZERO_CAPTCHA_FILESIZE: 3,
  ERROR_TOO_BIG_CAPTCHA_FILESIZE: 4,
  ERROR_PAGEURL: 5,
  ERROR_CAPTCHA_UNSOLVABLE: 12,
  ERROR_IMAGE_TYPE_NOT_SUPPORTED: 15,
  ERROR_NO_SUCH_CAPCHA_ID: 16,
  ERROR_TASK_ABSENT: 22,
  ERROR_TASK_NOT_SUPPORTED: 23,
  ERROR_PROXY_FORMAT: 25,
  ERROR_RECAPTCHA_INVALID_SITEKEY: 31,
  ERROR_BAD_PARAMETERS: 110,
};

export const JSON_TEXT: Record<string, string> = {
  ERROR_KEY_DOES_NOT_EXIST: 'Account authorization key not found (missing, malformed or revoked clientKey).',
  ERROR_NO_SLOT_AVAILABLE: 'No idle workers are available: the queue is full, your rate or task cap is reached, or the service only takes higher priorities now. Retry shortly.',
  ERROR_ZERO_CAPTCHA_FILESIZE: 'The image is missing or smaller than 100 bytes.',
  ERROR_TOO_BIG_CAPTCHA_FILESIZE: 'The image is larger than 600 kB.',
  ERROR_PAGEURL: 'websiteURL is missing or not an http(s) URL.',
  ERROR_CAPTCHA_UNSOLVABLE: 'Workers could not solve the captcha in time.',
  ERROR_IMAGE_TYPE_NOT_SUPPORTED: 'The image could not be read (invalid base64).',
  ERROR_NO_SUCH_CAPCHA_ID: 'Task not found (unknown, expired, not yours, or the report window has passed).',
  ERROR_TASK_ABSENT: 'The task property is missing or empty.',
  ERROR_TASK_NOT_SUPPORTED: 'The task type is not supported.',
  ERROR_PROXY_FORMAT: 'The proxy fields are malformed.',
  ERROR_RECAPTCHA_INVALID_SITEKEY: 'websiteKey is missing or malformed.',
  ERROR_BAD_PARAMETERS: 'Required parameters are missing or malformed.',
  ERROR_DUPLICATE_REPORT: 'This task was already reported.',
  ERROR_SERVER_ERROR: 'Temporary server error; retry in a few seconds.',
};

export const jsonError = (code: string, detail?: string): { errorId: number; errorCode: string; errorDescription: string } => ({
  errorId: JSON_ERROR_IDS[code] ?? 99,
  errorCode: code,
  errorDescription: detail ? `${JSON_TEXT[code] ?? code} (${detail})` : (JSON_TEXT[code] ?? code),
});

/** A gateway failure carrying the protocol code to answer with. */
export class GatewayError extends Error {
  constructor(
    readonly code: string,
    readonly detail?: string,
  ) {
    super(detail ? `${code}: ${detail}` : code);
    this.name = 'GatewayError';
  }
}
