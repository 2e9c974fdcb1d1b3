/**
 * The 2captcha / anti-captcha compatible gateway, registered as its own encapsulated
 * fastify context so that its body parsing and error answers do not leak into REST:
 *
 *   - one catch-all body parser (JSON when the body looks like JSON, whatever the
 *     Content-Type; form-urlencoded otherwise) plus multipart for `method=post` uploads
 *   - every failure, including unparsable or oversized bodies, is an HTTP 200 answer
 *     with the protocol's code; only a bug in this service is logged as an error
 *
 * Routes: v1.ts (`/in.php`, `/res.php`) and json-api.ts (`/createTask`, …).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import type { GatewayDeps } from './common';
import { registerJsonApi, sendJsonError } from './json-api';
import { parseLooseBody } from './params';
import { registerV1, sendV1Error, v1Flags } from './v1';

export type { GatewayDeps } from './common';

const TOO_LARGE = new Set(['FST_ERR_CTP_BODY_TOO_LARGE', 'FST_REQ_FILE_TOO_LARGE', 'FST_PARTS_LIMIT', 'FST_FILES_LIMIT', 'FST_FIELDS_LIMIT']);

export async function registerGateway(app: FastifyInstance, d: GatewayDeps & { bodyLimitBytes: number }): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: d.bodyLimitBytes }, (request, body, done) => {
    done(null, parseLooseBody(String(body), request.headers['content-type']));
  });
  await app.register(multipart, {
    attachFieldsToBody: 'keyValues',
    limits: { fileSize: d.bodyLimitBytes, fieldSize: d.bodyLimitBytes, files: 1, fields: 200, parts: 201 },
  });

  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const json = request.url.split('?')[0] !== '/in.php' && request.url.split('?')[0] !== '/res.php';
    const tooLarge = TOO_LARGE.has(err.code) || err.statusCode === 413;
    const clientFault = tooLarge || (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500);
    if (!clientFault) d.logger.error({ err, url: request.routeOptions.url }, 'gateway request failed');
    const code = tooLarge ? 'ERROR_TOO_BIG_CAPTCHA_FILESIZE' : clientFault ? 'ERROR_BAD_PARAMETERS' : 'ERROR_SERVER_ERROR';
    if (json) return sendJsonError(reply, code);
    return sendV1Error(reply, v1Flags(request.query, undefined), code);
  });

  registerV1(app, d);
  registerJsonApi(app, d);
}
