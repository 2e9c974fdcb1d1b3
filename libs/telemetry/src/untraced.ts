/** Probe and scrape paths: never traced (the http and fastify instrumentations skip them). */
export const UNTRACED_PATHS = ['/health', '/health/ready', '/livez', '/readyz', '/metrics'];
