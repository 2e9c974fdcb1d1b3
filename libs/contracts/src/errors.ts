/**
 * Errors that cross package boundaries carry a stable `code` and whether a retry can help.
 * Callers switch on `code`; nobody matches on message text.
 */
export class SolvestreamError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  constructor(code: string, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SolvestreamError';
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** A request or entry failed validation. `field` names what was wrong (`params.websiteURL`). */
export class ValidationError extends SolvestreamError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('SS_VALIDATION', `${field}: ${message}`);
    this.name = 'ValidationError';
    this.field = field;
  }
}

/** A Lua transition refused to run; `code` is one of `ScriptErrorCode`. */
export class TransitionError extends SolvestreamError {
  constructor(code: string, message: string) {
    super(code, message);
    this.name = 'TransitionError';
  }
}
