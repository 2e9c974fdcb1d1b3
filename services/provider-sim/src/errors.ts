/**
 * Every error code the simulator answers, with the human text that goes into
 * v1 JSON `error_text` / JSON-API `errorDescription`, and the JSON-API `errorId`.
 *
 * errorIds follow the anti-captcha table, extended by 2captcha API v2 (5, 110, 130)
 * (captcha-protocols.md §2.3). Codes that neither table numbers (rate limits,
 * `ERROR_SERVER_ERROR`, `ERROR_DUPLICATE_REPORT`) get {@link UNNUMBERED_ERROR_ID};
 * clients should branch on `errorCode`, which is always the literal code.
 */

export const UNNUMBERED_ERROR_ID = 99;

interface ErrorInfo {
  text: string;
  errorId?: number;
}

const ERRORS: Record<string, ErrorInfo> = {
  ERROR_WRONG_USER_KEY: { text: "You've provided key parameter value in incorrect format, it should contain 32 symbols." },
  ERROR_KEY_DOES_NOT_EXIST: { text: "The key you've provided does not exist.", errorId: 1 },
  ERROR_NO_SLOT_AVAILABLE: { text: 'No free threads (slots) available to accept the task right now.', errorId: 2 },
  ERROR_ZERO_CAPTCHA_FILESIZE: { text: 'Image size is less than 100 bytes.', errorId: 3 },
  ERROR_TOO_BIG_CAPTCHA_FILESIZE: { text: 'Image size is more than the allowed maximum.', errorId: 4 },
  ERROR_PAGEURL: { text: 'pageurl parameter is missing in your request.', errorId: 5 },
  ERROR_ZERO_BALANCE: { text: 'You do not have funds (or free threads) on your account.', errorId: 10 },
  ERROR_CAPTCHA_UNSOLVABLE: { text: 'Workers could not solve the Captcha.', errorId: 12 },
  ERROR_NO_SUCH_METHOD: { text: 'Request to API made with a method that does not exist.', errorId: 14 },
  ERROR_IMAGE_TYPE_NOT_SUPPORTED: { text: 'Could not determine captcha file type; only JPG, GIF, PNG are allowed.', errorId: 15 },
  ERROR_NO_SUCH_CAPCHA_ID: { text: 'Captcha you are requesting does not exist in your current captchas list or has expired.', errorId: 16 },
  ERROR_IP_BLOCKED: { text: 'Your IP is blocked due to improper use of the API.', errorId: 21 },
  ERROR_TASK_ABSENT: { text: 'Task property is empty or not set in createTask method.', errorId: 22 },
  ERROR_TASK_NOT_SUPPORTED: { text: 'Task type is not supported or inproperly printed.', errorId: 23 },
  ERROR_RECAPTCHA_INVALID_SITEKEY: { text: 'Captcha provider reported that the site key is invalid or missing.', errorId: 31 },
  ERROR_BAD_PARAMETERS: { text: 'Required parameters are missing or have an incorrect format.', errorId: 110 },
  ERROR_PROXY_FORMAT: { text: 'Proxy format is wrong; use login:password@host:port or host:port.' },
  ERROR_UPLOAD: { text: 'Could not read the uploaded file (invalid base64?).' },
  ERROR_WRONG_GOOGLEKEY: { text: 'googlekey (sitekey) parameter is missing in your request.' },
  ERROR_GOOGLEKEY: { text: 'The sitekey you provided is blank or malformed.' },
  ERROR_WRONG_ID_FORMAT: { text: 'The captcha ID you provided has the wrong format; it can contain numbers only.' },
  ERROR_WRONG_CAPTCHA_ID: { text: 'You provided an invalid captcha ID.' },
  ERROR_EMPTY_ACTION: { text: 'Action parameter is missing or no value is provided for the action parameter.' },
  ERROR_REPORT_NOT_RECORDED: { text: 'Report not recorded: the captcha is not solved or was uploaded too long ago.' },
  ERROR_DUPLICATE_REPORT: { text: 'You have already reported this captcha.' },
  ERROR_SERVER_ERROR: { text: 'Internal server error, retry in a few seconds.' },
  ERROR_INTERNAL_SERVER_ERROR: { text: 'Internal server error, retry in a few seconds.' },
  MAX_USER_TURN: { text: 'You made more than 60 requests to in.php within 3 seconds; blocked for 10 seconds.' },
  'ERROR: 1001': { text: 'Blocked for 10 minutes: 120 ERROR_NO_SLOT_AVAILABLE errors in one minute.' },
  'ERROR: 1002': { text: 'Blocked for 5 minutes: 120 ERROR_ZERO_BALANCE errors in one minute.' },
  'ERROR: 1003': { text: 'Blocked for 30 seconds: too many ERROR_NO_SLOT_AVAILABLE errors.' },
  'ERROR: 1004': { text: 'Your IP is blocked for 10 minutes: too many requests with an incorrect API key.' },
  'ERROR: 1005': { text: 'Blocked for 5 minutes: too many requests to res.php.' },
};

/** Rate-limit codes that fault injection can answer (note the literal space in `ERROR: 100x`). */
export const RATE_LIMIT_CODES = ['MAX_USER_TURN', 'ERROR: 1001', 'ERROR: 1002', 'ERROR: 1003', 'ERROR: 1004', 'ERROR: 1005'];

export function isKnownCode(code: string): boolean {
  return Object.hasOwn(ERRORS, code);
}

/** The human description of `code` (the code itself if it has none). */
export function errorText(code: string): string {
  return ERRORS[code]?.text ?? code;
}

/**
 * v1 codes whose JSON-API counterpart has another name: the JSON API has no
 * "malformed key" or "wrong id format", and names sitekey errors differently.
 */
const JSON_API_NAME: Record<string, string> = {
  ERROR_WRONG_USER_KEY: 'ERROR_KEY_DOES_NOT_EXIST',
  ERROR_WRONG_GOOGLEKEY: 'ERROR_RECAPTCHA_INVALID_SITEKEY',
  ERROR_GOOGLEKEY: 'ERROR_RECAPTCHA_INVALID_SITEKEY',
  ERROR_WRONG_ID_FORMAT: 'ERROR_NO_SUCH_CAPCHA_ID',
  ERROR_WRONG_CAPTCHA_ID: 'ERROR_NO_SUCH_CAPCHA_ID',
  ERROR_UPLOAD: 'ERROR_IMAGE_TYPE_NOT_SUPPORTED',
};

/** The JSON-API error envelope for a (v1-named) code. */
export function jsonApiError(code: string): { errorId: number; errorCode: string; errorDescription: string } {
  const name = JSON_API_NAME[code] ?? code;
  return { errorId: ERRORS[name]?.errorId ?? UNNUMBERED_ERROR_ID, errorCode: name, errorDescription: errorText(name) };
}
