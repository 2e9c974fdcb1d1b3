/**
 * Gateway input: the npm clients send the same parameters every which way (captcha-
 * protocols.md §0.2): query string, form-urlencoded, multipart (`method=post` + `file`),
 * `application/json`, and a JSON body sent as `text/plain`, mixed with query params.
 * Everything is merged into one flat map (body wins over query) and read loosely:
 * `json=1` arrives as "1" or 1, `invisible=false` as the literal string.
 */

/** A parsed body that was not valid JSON although it looked like JSON. */
export const BAD_BODY = Symbol('bad body');
export type LooseBody = Record<string, unknown> & { [BAD_BODY]?: true };

export type Params = Map<string, unknown>;

/** The gateway's one body parser: JSON if it looks like JSON (any content type), else form-urlencoded. */
export function parseLooseBody(text: string, contentType: string | undefined): LooseBody {
  const trimmed = text.trim();
  if (trimmed === '') return {};
  if (trimmed.startsWith('{')) {
    try {
      const v = JSON.parse(trimmed) as unknown;
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as LooseBody;
    } catch {
      /* fall through */
    }
    return { [BAD_BODY]: true };
  }
  if (trimmed.startsWith('[')) return { [BAD_BODY]: true };
  if ((contentType ?? '').includes('json')) return { [BAD_BODY]: true };
  const out: LooseBody = {};
  for (const [k, v] of new URLSearchParams(trimmed)) out[k] = v;
  return out;
}

const last = (v: unknown): unknown => (Array.isArray(v) ? v[v.length - 1] : v);

/** Query + body → one map; body values win. Multipart files arrive as Buffers. */
export function mergeParams(query: unknown, body: unknown): Params {
  const out: Params = new Map();
  for (const src of [query, body]) {
    if (typeof src !== 'object' || src === null || Buffer.isBuffer(src)) continue;
    for (const [k, v] of Object.entries(src as Record<string, unknown>)) {
      if (v === undefined) continue;
      out.set(k, last(v));
    }
  }
  return out;
}

export function badBody(body: unknown): boolean {
  return typeof body === 'object' && body !== null && (body as LooseBody)[BAD_BODY] === true;
}

/** A string param ('' and absent are both undefined). Numbers are stringified; objects are not strings. */
export function str(p: Params, name: string): string | undefined {
  const v = p.get(name);
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** Loose boolean: 1/"1"/"true"/true are on; 0/"0"/"false"/""/absent are off. */
export function flag(p: Params, name: string): boolean {
  const v = p.get(name);
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return !['', '0', 'false', 'off', 'no'].includes(v.trim().toLowerCase());
  return false;
}

/** Optional boolean: undefined when absent. */
export function optFlag(p: Params, name: string): boolean | undefined {
  return p.has(name) && p.get(name) !== null ? flag(p, name) : undefined;
}

/** Optional number; NaN for something that is not one. */
export function num(p: Params, name: string): number | undefined {
  const v = p.get(name);
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v)) return Number(v);
  return Number.NaN;
}
