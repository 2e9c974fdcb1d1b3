/**
 * Which tenant a request belongs to. Authentication (API keys → tenant) is a later
 * issue; until then every request is tenant `default`. This is the one place that
 * decides, so adding auth changes this function and nothing else in the routes.
 */
import type { FastifyRequest } from 'fastify';

export const DEFAULT_TENANT = 'default';

export function tenantOf(_request: FastifyRequest): string {
  return DEFAULT_TENANT;
}
