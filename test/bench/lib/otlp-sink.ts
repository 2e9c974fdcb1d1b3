/**
 * A local OTLP/HTTP receiver for the tracing benchmark: it reads every export request,
 * counts it, and answers 200 with an empty body (a valid ExportTraceServiceResponse).
 * It decodes nothing, so what is measured is the cost of producing and exporting the
 * spans, not of a collector running on the same 2 cores.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OtlpSink {
  /** Base URL for OTEL_EXPORTER_OTLP_ENDPOINT. */
  url: string;
  stats: { requests: number; bytes: number };
  close(): Promise<void>;
}

export function startOtlpSink(): Promise<OtlpSink> {
  const stats = { requests: 0, bytes: 0 };
  const server = http.createServer((req, res) => {
    req.on('data', (c: Buffer) => { stats.bytes += c.length; });
    req.on('end', () => {
      stats.requests++;
      res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/x-protobuf', 'content-length': 0 });
      res.end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  })));
}
