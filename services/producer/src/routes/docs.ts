/**
 * `GET /docs` (and `/docs/json`): the OpenAPI document; `GET /docs/yaml`: the same as
 * YAML. Served through @fastify/swagger in static mode (openapi.ts).
 */
import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { openApiDocument } from '../openapi';

export function registerDocs(app: FastifyInstance, version = '0.1.0'): void {
  void app.register(swagger, { mode: 'static', specification: { document: openApiDocument(version) as never } });
  void app.register(async function docsRoutes(docs) {
    docs.get('/docs', async (_request, reply) => reply.send(app.swagger()));
    docs.get('/docs/json', async (_request, reply) => reply.send(app.swagger()));
    docs.get('/docs/yaml', async (_request, reply) => reply.type('application/yaml; charset=utf-8').send(app.swagger({ yaml: true })));
  });
}
