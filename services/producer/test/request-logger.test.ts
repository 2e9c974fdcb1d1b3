/**
 * request.log is built on first use (request-logger.ts): no pino child per request,
 * and a line logged through it is what fastify's own child would have written — the
 * request id bound, secrets redacted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import fastify, { type FastifyBaseLogger } from 'fastify';
import { createLogger } from '@solvestream/core';
import { lazyRequestLogger } from '../src/request-logger';

function sinkLogger(level = 'info') {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const logger = createLogger({ service: 'producer', level, destination }) as unknown as FastifyBaseLogger;
  let children = 0;
  const child = logger.child.bind(logger);
  logger.child = (b, o) => {
    children++;
    return child(b, o);
  };
  return { logger, lines, children: () => children };
}

test('the child is built on the first line only, once, with the bindings, options and redaction', () => {
  const { logger, lines, children } = sinkLogger();
  const log = lazyRequestLogger(logger, { reqId: 'req-1' }, { level: 'warn' });
  assert.equal(children(), 0, 'nothing built for a request that logs nothing');
  assert.equal(log.level, 'warn', 'the level is known without building the child');
  log.info('below the child level');
  log.warn({ password: 'hunter2', n: 1 }, 'first');
  log.error('second %s', 'line');
  assert.equal(children(), 1);
  assert.deepEqual(lines.map((l) => [l.reqId, l.msg]), [['req-1', 'first'], ['req-1', 'second line']]);
  assert.equal(lines[0]?.password, '[REDACTED]');
  assert.equal(lines[0]?.n, 1);
});

test('fastify accepts it: request.log in a handler carries the request id; requests that do not log build nothing', async () => {
  const { logger, lines, children } = sinkLogger();
  const app = fastify({ loggerInstance: logger, childLoggerFactory: lazyRequestLogger, disableRequestLogging: true });
  app.get('/quiet', async () => ({ ok: true }));
  app.get('/loud', async (request) => {
    request.log.warn({ route: 'loud' }, 'from the handler');
    return { ok: true };
  });
  await app.ready();
  const atStart = children(); // fastify's own server logger (its serializers)
  for (let i = 0; i < 20; i++) assert.equal((await app.inject({ method: 'GET', url: '/quiet' })).statusCode, 200);
  assert.equal(children() - atStart, 0);
  const res = await app.inject({ method: 'GET', url: '/loud' });
  assert.equal(res.statusCode, 200);
  assert.equal(children() - atStart, 1);
  const line = lines.find((l) => l.msg === 'from the handler');
  assert.ok(line && typeof line.reqId === 'string' && line.reqId.length > 0, JSON.stringify(lines));
  await app.close();
});
