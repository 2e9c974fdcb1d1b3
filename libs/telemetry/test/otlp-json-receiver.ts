/**
 * A real OTLP/HTTP receiver for the span-export tests (protocol http/json): counts the
 * spans of every export request, and can answer slowly (a remote or busy collector), and
 * answer its first requests badly: `refuse` (400, a failed export) or `stall` (never
 * answered: a hung collector, the exporter times out).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OtlpJsonReceiver {
  /** OTEL_EXPORTER_OTLP_ENDPOINT for it. */
  url: string;
  /** Spans received in requests answered 200. */
  spans: number;
  /** Export requests seen (all answers). */
  requests: number;
  close(): Promise<void>;
}

interface ExportRequest { resourceSpans?: { scopeSpans?: { spans?: unknown[] }[] }[] }

export async function startOtlpJsonReceiver(o: { delayMs?: number; first?: ('refuse' | 'stall')[] } = {}): Promise<OtlpJsonReceiver> {
  const first = [...(o.first ?? [])];
  const r = { url: '', spans: 0, requests: 0 } as OtlpJsonReceiver;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      r.requests++;
      const answer = (): void => {
        const bad = first.shift();
        if (bad === 'stall') return;
        if (bad === 'refuse') {
          res.writeHead(400, { 'content-type': 'application/json' }).end('{"code":3,"message":"refused by the test"}');
          return;
        }
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ExportRequest;
        for (const rs of body.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) r.spans += ss.spans?.length ?? 0;
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      };
      if (o.delayMs) setTimeout(answer, o.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  r.close = () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  return r;
}
