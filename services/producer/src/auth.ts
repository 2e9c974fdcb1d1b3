/**
 * Authentication: which tenant a request belongs to (tenants.ts holds the keys).
 *
 *   REST     `Authorization: Bearer <key>`          → 401 UNAUTHORIZED when missing or wrong
 *   gateway  `key` (v1) / `clientKey` (JSON API)    → the protocol's key errors, HTTP 200
 *
 * In open mode (no tenant configured anywhere) every request is tenant `default` and
 * any key, or none, is accepted. Keys never reach a log line or an error message.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { API_KEY_RE, DEFAULT_TENANT, type Tenant, type TenantDirectory } from './tenants';
import { HttpError, guardRedis } from './errors';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook of the routes that need it. */
    tenant: Tenant | null;
  }
}

export type AuthFailure = 'missing' | 'malformed' | 'unknown';
export type AuthResult = { ok: true; tenant: Tenant } | { ok: false; reason: AuthFailure };

/** Resolves a presented key (undefined: none sent). Throws when Redis cannot answer. */
export async function authenticate(dir: TenantDirectory, key: string | undefined): Promise<AuthResult> {
  if ((await dir.accessMode()) === 'open') return { ok: true, tenant: await dir.tenant(DEFAULT_TENANT) };
  if (key === undefined || key === '') return { ok: false, reason: 'missing' };
  if (!API_KEY_RE.test(key)) return { ok: false, reason: 'malformed' };
  const tenant = await dir.authenticate(key);
  return tenant ? { ok: true, tenant } : { ok: false, reason: 'unknown' };
}

/** The key of `Authorization: Bearer <key>`, or undefined. */
export function bearerKey(request: FastifyRequest): string | undefined {
  const h = request.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1] : '!'; // present but not a Bearer token: reads as malformed
}

const MESSAGES: Record<AuthFailure, string> = {
  missing: 'send your API key as Authorization: Bearer <key>',
  malformed: 'the API key is malformed',
  unknown: 'the API key is not valid (unknown or revoked)',
};

/** Adds `request.tenant` to every route of `app` (an encapsulated REST context). */
export function installRestAuth(app: FastifyInstance, dir: TenantDirectory): void {
  app.decorateRequest('tenant', null);
  app.addHook('preHandler', async (request) => {
    const r = await guardRedis(() => authenticate(dir, bearerKey(request)));
    if (!r.ok) throw new HttpError('UNAUTHORIZED', MESSAGES[r.reason], 'authorization');
    request.tenant = r.tenant;
  });
}

/** The authenticated tenant of a request that went through the auth hook. */
export function tenantOf(request: FastifyRequest): Tenant {
  if (!request.tenant) throw new Error('route is missing the auth hook');
  return request.tenant;
}
