import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { startInMemoryTelemetry } from '../src';

// Its own file (its own process): it starts the SDK before loading node:http, so the
// http instrumentation patches it, and sends a request with secrets in its query.
test('http spans (server and outgoing client) carry the query redacted by pattern', async () => {
  const mem = startInMemoryTelemetry('http-redaction');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const http = require('node:http') as typeof import('node:http');
  const server = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/res.php?Key=K3Y-S3CRET&access_token=T0K3N&action=get&id=7' }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      }).on('error', reject);
    });
    const spans = (): ReturnType<typeof mem.spans> => mem.spans().filter((s) => s.attributes['url.query'] !== undefined || s.attributes['url.full'] !== undefined);
    for (let i = 0; i < 100 && spans().length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    const dump = JSON.stringify(spans().map((s) => s.attributes));
    assert.equal(spans().length, 2, `a server and a client span: ${dump}`);
    assert.ok(!dump.includes('K3Y-S3CRET') && !dump.includes('T0K3N'), `no secret in ${dump}`);
    assert.ok(dump.includes('action=get'), 'harmless parameters stay');
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
    await mem.shutdown();
  }
});
