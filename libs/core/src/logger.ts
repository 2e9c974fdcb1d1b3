/**
 * pino JSON logger factory. Secrets never reach a log line: known secret-bearing
 * fields are redacted by path, and `scrubSecrets` removes secret values (provider
 * keys in URLs, for example) from free text such as error messages.
 */
import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/** Field paths redacted in every log line, at the top level and one level down. */
export const REDACT_PATHS = [
  'key', 'apiKey', 'clientKey', 'password', 'token', 'secret', 'authorization',
  '*.key', '*.apiKey', '*.clientKey', '*.password', '*.secret', '*.authorization',
  'req.headers.authorization', 'req.headers.cookie', 'headers.authorization',
  'params.proxy.password', '*.params.proxy.password', 'proxy.password', '*.proxy.password',
  'config.providers[*].key', 'providers[*].key',
];

export interface LoggerFactoryOptions {
  service: string;
  /** pino level; default `info`. */
  level?: string;
  /** Extra bindings on every line (instance id, version). */
  base?: Record<string, unknown>;
  /** Write to this destination instead of stdout (tests). */
  destination?: pino.DestinationStream;
}

export function createLogger(o: LoggerFactoryOptions): Logger {
  const options: LoggerOptions = {
    level: o.level ?? 'info',
    base: { service: o.service, pid: process.pid, ...o.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    formatters: { level: (label) => ({ level: label }) },
  };
  return o.destination ? pino(options, o.destination) : pino(options);
}

/**
 * The `{"msg":"listening","url":…}` line: launchers and the system tests read a service's
 * address from it (it may have bound PORT=0, any free port). Printed at info whatever the
 * configured level — at `warn` it is then the one info line — as the provider simulator
 * prints its own.
 */
export function logListening(logger: Logger, fields: { url: string } & Record<string, unknown>): void {
  (logger.isLevelEnabled('info') ? logger : logger.child({}, { level: 'info' })).info(fields, 'listening');
}

/** Replaces every occurrence of each secret (longer than 3 chars) in `text` with [REDACTED]. */
export function scrubSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length > 3) out = out.split(s).join('[REDACTED]');
  // Also any `key=` / `clientKey` query or JSON value, whoever it belongs to.
  return out
    .replace(/([?&](?:key|clientKey)=)[^&\s"']+/gi, '$1[REDACTED]')
    .replace(/("(?:key|clientKey)"\s*:\s*")[^"]*"/gi, '$1[REDACTED]"');
}
