/**
 * A small ops HTTP server for services without a public API (workers): probes and
 * metrics on one port.
 *
 *   GET /health, /livez          liveness with detail: 200 while `live()` says so, else 503
 *   GET /health/ready, /readyz   readiness: 200 when every check passes, else 503 + the reasons
 *   GET /metrics                 Prometheus text format
 */
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface OpsServerOptions {
  port: number;
  host: string;
  registry: Registry;
  /** Liveness: is the process making progress? Returns detail for the JSON body. */
  live: () => { ok: boolean; detail: Record<string, unknown> };
  /** Readiness checks; each throws (or rejects) with the reason it is not ready. */
  ready: () => Promise<void>;
  /**
   * Deadline of `ready()`, ms; past it the probe answers 503 (a check stuck on a dead
   * Redis is a failed check, not a hung probe). Default 1,000, Kubernetes' probe timeout.
   */
  readyTimeoutMs?: number;
}

export interface OpsServer {
  url: string;
  close(): Promise<void>;
}

export async function startOpsServer(o: OpsServerOptions): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET') return json(405, { error: { code: 'METHOD_NOT_ALLOWED', message: 'only GET' } });
    if (path === '/health' || path === '/livez') {
      const l = o.live();
      return json(l.ok ? 200 : 503, { status: l.ok ? 'ok' : 'stalled', ...l.detail });
    }
    if (path === '/health/ready' || path === '/readyz') {
      const ms = o.readyTimeoutMs ?? 1000;
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`readiness checks did not finish within ${ms} ms`)), ms); });
      Promise.race([o.ready(), deadline]).finally(() => clearTimeout(timer)).then(
        () => json(200, { status: 'ready' }),
        (err: unknown) => json(503, { status: 'not_ready', error: err instanceof Error ? err.message : String(err) }),
      );
      return;
    }
    if (path === '/metrics') {
      o.registry.metrics().then(
        (text) => { res.writeHead(200, { 'content-type': o.registry.contentType }); res.end(text); },
        (err: unknown) => json(500, { error: { code: 'METRICS_FAILED', message: String(err) } }),
      );
      return;
    }
    json(404, { error: { code: 'NOT_FOUND', message: `no route ${path}` } });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  return {
    url: `http://${o.host}:${port}`,
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
  };
}
