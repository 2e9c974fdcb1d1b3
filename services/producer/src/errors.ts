/**
 * The HTTP API's one error shape, and the one place that maps failures onto it.
 *
 *     { "error": { "code": "VALIDATION_FAILED", "message": "params.websiteURL: …", "field": "params.websiteURL" } }
 *
 * `code` is stable (clients switch on it); `message` is for humans; `field` names the
 * offending input when there is one (`type`, `params.websiteURL`, `wait`, `body`).
 *
 * Rule: nothing a client sends may produce a 5xx. Client mistakes are 4xx; 503 means
 * Redis (or this instance, while it drains) cannot serve right now and a retry may
 * help; 500 is reserved for bugs in this service.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SolvestreamError, ValidationError } from '@solvestream/contracts';
import type { Logger } from '@solvestream/core';

/** Every code the API answers with, and its HTTP status. */
export const ERROR_STATUS = {
  VALIDATION_FAILED: 400,
  BAD_JSON: 400,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  TASK_NOT_FOUND: 404,
  TASK_NOT_CANCELLABLE: 409,
  IDEMPOTENCY_KEY_REUSED: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  TENANT_QUEUE_FULL: 429,
  QUEUE_FULL: 429,
  MODE_RESTRICTED: 429,
  INTERNAL: 500,
  REDIS_UNAVAILABLE: 503,
  SHUTTING_DOWN: 503,
} as const;
export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorBody {
  error: { code: ErrorCode; message: string; field?: string };
}

export class HttpError extends Error {
  readonly status: number;
  /** Sent as `Retry-After` (seconds) with 429s. */
  retryAfterSeconds?: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(message, options);
    this.name = 'HttpError';
    this.status = ERROR_STATUS[code];
    if (options?.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.field ? { field: this.field } : {}) } };
  }
}

/** A failed Redis call: the connection is down, timed out or Redis is still loading. */
export function redisUnavailable(cause: unknown): HttpError {
  return new HttpError('REDIS_UNAVAILABLE', 'the task store is unavailable; retry shortly', undefined, { cause });
}

/**
 * Runs one Redis-backed step and wraps whatever it throws, once, at this boundary:
 * our own typed errors pass through, programming errors (TypeError and friends) stay
 * 500s, and everything else (connection closed, command timeout, offline queue off,
 * LOADING, …) is 503 REDIS_UNAVAILABLE.
 */
export async function guardRedis<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (err instanceof HttpError || err instanceof SolvestreamError) throw err;
    if (err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError) throw err;
    throw redisUnavailable(err);
  }
}

/** fastify's own error codes for things a client got wrong, mapped to ours. */
const FASTIFY_CODES: Record<string, (e: FastifyError) => HttpError> = {
  FST_ERR_CTP_INVALID_JSON_BODY: () => new HttpError('BAD_JSON', 'the request body is not valid JSON', 'body'),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new HttpError('BAD_JSON', 'the request body is empty; send a JSON object', 'body'),
  FST_ERR_CTP_BODY_TOO_LARGE: () => new HttpError('PAYLOAD_TOO_LARGE', 'the request body is larger than this server accepts', 'body'),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () =>
    new HttpError('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json', 'content-type'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () =>
    new HttpError('BAD_REQUEST', 'Content-Length does not match the body', 'content-length'),
  FST_ERR_BAD_URL: () => new HttpError('BAD_REQUEST', 'the URL is malformed', 'url'),
  // A path segment longer than any id we issue cannot name a resource.
  FST_ERR_MAX_PARAM_LENGTH: () => new HttpError('NOT_FOUND', 'no such resource (path segment too long)'),
};

/** Any thrown value → the HttpError the client sees. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof ValidationError) return new HttpError('VALIDATION_FAILED', err.message, err.field);
  const fe = err as Partial<FastifyError> | undefined;
  const mapped = fe?.code ? FASTIFY_CODES[fe.code] : undefined;
  if (mapped) return mapped(fe as FastifyError);
  // fastify marks JSON syntax errors (e.g. prototype poisoning) with a 400 statusCode.
  if (err instanceof SyntaxError && fe?.statusCode === 400) return new HttpError('BAD_JSON', 'the request body is not valid JSON', 'body');
  if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    if (fe.statusCode === 413) return new HttpError('PAYLOAD_TOO_LARGE', 'the request body is too large', 'body');
    if (fe.statusCode === 415) return new HttpError('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json', 'content-type');
    return new HttpError('BAD_REQUEST', fe.message ?? 'bad request');
  }
  return new HttpError('INTERNAL', 'internal error', undefined, { cause: err });
}

export function sendError(reply: FastifyReply, err: HttpError): FastifyReply {
  if (err.retryAfterSeconds !== undefined) reply.header('retry-after', String(err.retryAfterSeconds));
  if (err.status === 401) reply.header('www-authenticate', 'Bearer');
  return reply.code(err.status).type('application/json; charset=utf-8').send(err.toBody());
}

/**
 * Installs the error handler, the 404 handler and the handler for errors fastify raises
 * before routing (bad URLs). Bodies are never logged: they may carry proxy passwords.
 */
export function installErrorHandling(app: FastifyInstance, logger: Logger): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const httpErr = toHttpError(err);
    const cause = httpErr.cause ?? err;
    if (httpErr.status === 500) {
      logger.error({ err: cause, code: httpErr.code, method: request.method, url: request.routeOptions.url }, 'request failed');
    } else if (httpErr.status >= 500) {
      // Expected during an outage and possibly at every request: one line, no stack.
      const reason = cause instanceof Error ? cause.message : String(cause);
      logger.warn({ code: httpErr.code, reason, method: request.method, url: request.routeOptions.url }, 'request refused');
    } else {
      logger.debug({ code: httpErr.code, field: httpErr.field, method: request.method }, 'request rejected');
    }
    return sendError(reply, httpErr);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new HttpError('NOT_FOUND', `no route for ${request.method} ${(request.url.split('?')[0] ?? '').slice(0, 200)}`)),
  );
}

/** For fastify's `frameworkErrors` option (errors before routing, e.g. FST_ERR_BAD_URL). */
export function frameworkErrorHandler(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  void sendError(reply, toHttpError(err));
}
