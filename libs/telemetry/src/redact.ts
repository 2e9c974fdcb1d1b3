/**
 * What the instrumentations may put in a span, decided here (DESIGN.md: secrets never
 * appear in logs, errors or traces). Left to their defaults they exported:
 *
 *   - the 2captcha gateway's `key` (a client's API key) and `proxy` (login:password@host)
 *     from the query string, in the HTTP server span's `url.query` and in @fastify/otel's
 *     `url.path` (it records `request.url`, query included);
 *   - every argument of a script call in the ioredis span's `db.query.text` (the default
 *     serializer prints all of EVALSHA's): submitTask's carry the task's params, proxy
 *     password included, ≈ 900 bytes per span that the exporter then serialised.
 *
 * observability.test.ts sends such secrets through a traced system and fails if any
 * exported span holds one.
 */

/**
 * Query parameters whose values are replaced by REDACTED in HTTP spans (server and
 * client): the 2captcha protocol's `key`, `proxy` (login:password@host) and `pingback`
 * (a URL that may carry its own token), and any name that looks like a credential,
 * case-insensitively (`access_token`, `api_key`, `Signature`, `X-Amz-Credential`, …).
 */
export const SENSITIVE_QUERY_PARAM = /key|token|secret|pass|auth|sig|cookie|session|credential|proxy|pingback/i;

/** `url.path` is the path only (semantic conventions); the query is `url.query`'s, redacted. */
export const pathOnly = (url: string): string => {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
};

/**
 * `db.query.text` of an ioredis span: the command and how many arguments it had, never
 * their values. A script call keeps its SHA and its first key, which say which
 * transition ran where (a batched transition's first key is the events stream, a
 * single one's its task's lane or hash); keys are names from the keyspace, never
 * secrets.
 */
export function redisStatement(command: string, args: readonly unknown[]): string {
  const c = command.toLowerCase();
  if ((c === 'evalsha' || c === 'eval' || c === 'evalsha_ro' || c === 'eval_ro') && args.length >= 2) {
    const firstKey = Number(args[1]) >= 1 && args.length >= 3 ? ` ${String(args[2])}` : '';
    const rest = args.length - 2 - (firstKey ? 1 : 0);
    const script = c.startsWith('evalsha') ? String(args[0]) : '<script>';
    return `${c} ${script}${firstKey} [${rest} other arguments]`;
  }
  return args.length === 0 ? c : `${c} [${args.length} arguments]`;
}

/** A query string ('?a=1&key=…', leading '?' kept if given) with every sensitive value REDACTED. */
export function redactQuery(query: string): string {
  const lead = query.startsWith('?') ? '?' : '';
  const params = new URLSearchParams(lead ? query.slice(1) : query);
  let changed = false;
  for (const name of new Set(params.keys())) {
    if (SENSITIVE_QUERY_PARAM.test(name)) {
      params.set(name, 'REDACTED');
      changed = true;
    }
  }
  return changed ? lead + params.toString() : query;
}

/**
 * An incoming request's `url.query` (no leading '?'), redacted; nothing when it has no
 * query. Overrides what the http instrumentation computed (it redacts exact names only).
 */
export function serverQueryAttributes(url = ''): Record<string, string> {
  const q = url.indexOf('?');
  return q === -1 ? {} : { 'url.query': redactQuery(url.slice(q + 1)) };
}

/**
 * Overrides for an outgoing request's span (undici's instrumentation has no redaction of
 * its own; http's redacts exact names only): `url.query` and `url.full` with sensitive
 * values REDACTED, e.g. a webhook's callback URL carrying a token. Nothing when the path
 * has no query (every provider call: the key travels in the POST body).
 */
export function clientUrlAttributes(origin: string, path: string): Record<string, string> {
  const q = path.indexOf('?');
  if (q === -1) return {};
  const query = redactQuery(path.slice(q));
  return { 'url.query': query, 'url.full': new URL(path.slice(0, q) + query, origin).toString() };
}
