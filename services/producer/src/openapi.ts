/**
 * The OpenAPI 3 description of the REST API and the gateway, served at `/docs`
 * (JSON) and `/docs/yaml`. Written by hand rather than generated from route schemas:
 * the routes validate with their own field-naming errors (task-request.ts), and the
 * task params are the same TypeBox schemas the validator compiles (PARAM_SCHEMAS), so
 * this document cannot drift from what is enforced.
 */
import { PARAM_SCHEMAS, PRIORITIES, TASK_EVENTS, TASK_STATUSES, TASK_TYPES } from '@solvestream/contracts';
import { ERROR_STATUS } from './errors';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown) => ({ 'application/json': { schema } });
const error = (description: string) => ({ description, content: json(ref('Error')) });
const taskId = { name: 'id', in: 'path', required: true, schema: { type: 'string', maxLength: 64 } };

const v1Params = [
  { name: 'key', in: 'query', schema: { type: 'string' }, description: 'API key (any value while the API is open)' },
  { name: 'json', in: 'query', schema: { type: 'string', enum: ['0', '1'] }, description: 'JSON answers instead of plain text' },
  { name: 'header_acao', in: 'query', schema: { type: 'string' }, description: '1: add Access-Control-Allow-Origin: *' },
];

export function openApiDocument(version: string): Record<string, unknown> {
  const paramsSchemas = Object.fromEntries(TASK_TYPES.map((t) => [`Params_${t}`, JSON.parse(JSON.stringify(PARAM_SCHEMAS[t])) as unknown]));
  return {
    openapi: '3.0.3',
    info: {
      title: 'solvestream client API',
      version,
      description:
        'REST task API (`/v1`) and a 2captcha / anti-captcha compatible gateway (`/in.php`, `/res.php`, `/createTask`, …). ' +
        'REST authenticates with `Authorization: Bearer <key>`, the gateway with `key` / `clientKey`. While no tenant is configured ' +
        'the API is open and every request is tenant `default`.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        ...paramsSchemas,
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: { code: { type: 'string', enum: Object.keys(ERROR_STATUS) }, message: { type: 'string' }, field: { type: 'string' } },
            },
          },
        },
        SubmitRequest: {
          type: 'object',
          required: ['type', 'params'],
          additionalProperties: false,
          properties: {
            type: { type: 'string', enum: [...TASK_TYPES] },
            params: { oneOf: TASK_TYPES.map((t) => ref(`Params_${t}`)), description: 'Schema depends on `type`' },
            priority: { type: 'string', enum: [...PRIORITIES], default: 'normal' },
            idempotencyKey: { type: 'string', maxLength: 255, description: 'Same key from the same tenant → the same task (or send `Idempotency-Key`)' },
            callbackUrl: { type: 'string', format: 'uri', description: 'Webhook: POSTed the finished task, signed (x-solvestream-signature)' },
          },
        },
        Submitted: {
          type: 'object',
          properties: { id: { type: 'string' }, status: { type: 'string', enum: ['queued'] }, type: { type: 'string' }, priority: { type: 'string' }, createdAt: { type: 'string', format: 'date-time' } },
        },
        Task: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            type: { type: 'string', enum: [...TASK_TYPES] },
            status: { type: 'string', enum: [...TASK_STATUSES] },
            priority: { type: 'string', enum: [...PRIORITIES] },
            attempt: { type: 'integer' },
            createdAt: { type: 'string', format: 'date-time' },
            updatedAt: { type: 'string', format: 'date-time' },
            completedAt: { type: 'string', format: 'date-time' },
            solution: { type: 'object', properties: { token: { type: 'string' }, text: { type: 'string' }, userAgent: { type: 'string' }, respKey: { type: 'string' } } },
            error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
            webhook: { type: 'object', properties: { url: { type: 'string' }, status: { type: 'string', enum: ['pending', 'delivered', 'retrying', 'failed'] }, attempts: { type: 'integer' } } },
          },
        },
      },
    },
    security: [{ bearer: [] }],
    paths: {
      '/v1/tasks': {
        post: {
          summary: 'Submit a task',
          parameters: [{ name: 'Idempotency-Key', in: 'header', schema: { type: 'string' } }],
          requestBody: { required: true, content: json(ref('SubmitRequest')) },
          responses: {
            202: { description: 'Queued durably', content: json(ref('Submitted')) },
            200: { description: 'Idempotent replay: the task this key created (header Idempotent-Replayed: true)', content: json(ref('Task')) },
            400: error('Bad input; `field` names it'),
            401: error('Missing or unknown API key'),
            409: error('IDEMPOTENCY_KEY_REUSED: the key was used for another request'),
            413: error('Body over BODY_LIMIT_BYTES'),
            415: error('Not application/json'),
            429: error('RATE_LIMITED | TENANT_QUEUE_FULL | QUEUE_FULL | MODE_RESTRICTED, with Retry-After'),
            503: error('Redis unavailable or instance draining'),
          },
        },
      },
      '/v1/tasks/{id}': {
        get: {
          summary: 'Read a task; long-poll with ?wait=SECONDS',
          parameters: [taskId, { name: 'wait', in: 'query', schema: { type: 'integer', minimum: 0 } }],
          responses: { 200: { description: 'The task', content: json(ref('Task')) }, 404: error('Unknown, expired, or another tenant’s') },
        },
      },
      '/v1/tasks/{id}/events': {
        get: {
          summary: 'The task’s lifecycle events, oldest first',
          parameters: [taskId],
          responses: {
            200: {
              description: 'Events',
              content: json({
                type: 'object',
                properties: {
                  id: { type: 'string' },
                  truncated: { type: 'boolean' },
                  events: { type: 'array', items: { type: 'object', properties: { event: { type: 'string', enum: [...TASK_EVENTS] }, at: { type: 'string', format: 'date-time' }, data: { type: 'object', additionalProperties: { type: 'string' } } } } },
                },
              }),
            },
            404: error('No such task'),
          },
        },
      },
      '/v1/tasks/{id}/cancel': {
        post: {
          summary: 'Cancel a task that has not ended',
          parameters: [taskId],
          responses: { 200: { description: 'Cancelled', content: json(ref('Task')) }, 404: error('No such task'), 409: error('TASK_NOT_CANCELLABLE: it already ended') },
        },
      },
      '/v1/stats': {
        get: { summary: 'Queue depth per priority, in flight, delayed, dead letter, outcome counts, the mode and your own counters', responses: { 200: { description: 'Stats' } } },
      },
      '/v1/results/stream': {
        get: {
          summary: 'Server-sent events: your tasks’ outcomes as they happen (resume with Last-Event-ID or ?after=)',
          responses: { 200: { description: 'text/event-stream; `event: result`, `data:` {id, status, type, completedAt, solution?, error?}' } },
        },
      },
      '/in.php': {
        get: {
          tags: ['gateway'],
          summary: '2captcha v1 submit (also POST: form, multipart, JSON, JSON as text/plain)',
          security: [],
          parameters: [...v1Params, { name: 'method', in: 'query', schema: { type: 'string', enum: ['userrecaptcha', 'hcaptcha', 'turnstile', 'base64', 'post'] } }],
          responses: { 200: { description: '`OK|<id>` / `{"status":1,"request":"<id>"}`, or an error code (always HTTP 200)' } },
        },
      },
      '/res.php': {
        get: {
          tags: ['gateway'],
          summary: '2captcha v1 results and account actions: get (id | ids), get2, getbalance, reportgood, reportbad',
          security: [],
          parameters: [...v1Params, { name: 'action', in: 'query', schema: { type: 'string' } }, { name: 'id', in: 'query', schema: { type: 'string' } }, { name: 'ids', in: 'query', schema: { type: 'string' } }],
          responses: { 200: { description: 'Answer, CAPCHA_NOT_READY or an error code (always HTTP 200)' } },
        },
      },
      ...Object.fromEntries(
        ['createTask', 'getTaskResult', 'getBalance', 'reportIncorrectImageCaptcha', 'reportIncorrectRecaptcha', 'reportIncorrectHcaptcha', 'reportIncorrect', 'reportCorrectRecaptcha', 'reportCorrect'].map((m) => [
          `/${m}`,
          {
            post: {
              tags: ['gateway'],
              summary: `anti-captcha / 2captcha v2 JSON API: ${m}`,
              security: [],
              requestBody: { content: json({ type: 'object', properties: { clientKey: { type: 'string' } } }) },
              responses: { 200: { description: '`{errorId:0, …}` or `{errorId, errorCode, errorDescription}` (always HTTP 200)' } },
            },
          },
        ]),
      ),
    },
  };
}
