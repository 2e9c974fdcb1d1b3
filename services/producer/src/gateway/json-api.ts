/**
 * The JSON task API of anti-captcha / 2captcha v2 (captcha-protocols.md §2), all POST
 * with a JSON body, all HTTP 200:
 *
 *   /createTask     {clientKey, task:{type,…}, priority?}  → {errorId:0, taskId:<number>}
 *   /getTaskResult  {clientKey, taskId}     → {errorId:0, status:"processing"}
 *                                             | {errorId:0, status:"ready", solution, cost, ip, createTime, endTime, solveCount}
 *                                             | {errorId:12, errorCode:"ERROR_CAPTCHA_UNSOLVABLE", …}
 *   /getBalance     {clientKey}             → {errorId:0, balance}
 *   /reportIncorrectImageCaptcha, /reportIncorrectRecaptcha, /reportIncorrectHcaptcha,
 *   /reportIncorrect (bad); /reportCorrectRecaptcha, /reportCorrect (good)
 *                   {clientKey, taskId}     → {errorId:0, status:"success"}
 *
 * Errors: `{errorId, errorCode, errorDescription}` with anti-captcha's numbering
 * (codes.ts). `taskId` is a JSON number (ids stay below 2^53); a numeric string is
 * accepted too. `callbackUrl`, `softId` and `languagePool` are ignored.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isTerminal } from '@solvestream/contracts';
import { GatewayError, V1_RESULT_CODES, jsonError } from './codes';
import { authKey, balanceOf, NUMERIC_ID_RE, type GatewayDeps } from './common';
import { badBody } from './params';
import { gatewayPriority, jsonSolution, jsonTaskSpec } from './translate';

const REPORTS: Record<string, 'good' | 'bad'> = {
  reportIncorrectImageCaptcha: 'bad',
  reportIncorrectRecaptcha: 'bad',
  reportIncorrectHcaptcha: 'bad',
  reportIncorrect: 'bad',
  reportCorrectRecaptcha: 'good',
  reportCorrect: 'good',
};

const sec = (ms: number | undefined): number => Math.floor((ms ?? 0) / 1000);

export function sendJsonError(reply: FastifyReply, code: string, detail?: string): FastifyReply {
  return reply.code(200).type('application/json; charset=utf-8').send(jsonError(code, detail));
}

const isUnavailable = (err: unknown): boolean => !(err instanceof GatewayError) && !(err instanceof TypeError) && !(err instanceof RangeError);

function taskIdOf(body: Record<string, unknown>): string | undefined {
  const v = body.taskId;
  const s = typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? String(v) : typeof v === 'string' ? v.trim() : undefined;
  return s !== undefined && NUMERIC_ID_RE.test(s) ? s : undefined;
}

export function registerJsonApi(app: FastifyInstance, d: GatewayDeps): void {
  const route = (path: string, fn: (body: Record<string, unknown>, request: FastifyRequest, reply: FastifyReply) => Promise<unknown>): void => {
    app.post(path, async (request, reply) => {
      const body = request.body;
      if (badBody(body) || typeof body !== 'object' || body === null || Array.isArray(body) || Buffer.isBuffer(body)) {
        return sendJsonError(reply, 'ERROR_BAD_PARAMETERS', 'send a JSON object');
      }
      const b = body as Record<string, unknown>;
      try {
        const auth = await authKey(d, typeof b.clientKey === 'string' ? b.clientKey : undefined);
        if (!auth.ok) return sendJsonError(reply, 'ERROR_KEY_DOES_NOT_EXIST');
        request.tenant = auth.tenant;
        return await fn(b, request, reply);
      } catch (err) {
        if (err instanceof GatewayError) return sendJsonError(reply, err.code, err.detail);
        if (isUnavailable(err)) {
          d.logger.warn({ path, reason: err instanceof Error ? err.message : String(err) }, 'json api: store unavailable');
          // createTask: a capacity answer every client retries; polls: keep the client polling.
          if (path === '/getTaskResult') return reply.code(200).send({ errorId: 0, status: 'processing' });
          return sendJsonError(reply, path === '/createTask' ? 'ERROR_NO_SLOT_AVAILABLE' : 'ERROR_SERVER_ERROR');
        }
        throw err;
      }
    });
  };

  route('/createTask', async (b, request, reply) => {
    const tenant = request.tenant!;
    const spec = jsonTaskSpec(b.task);
    const priority = gatewayPriority(b.priority, tenant.gatewayPriority, 'ERROR_BAD_PARAMETERS');
    const out = await d.submitter.submit({ tenant, spec, priority, source: 'json-api', numericId: true });
    if (out.kind === 'refused') return sendJsonError(reply, 'ERROR_NO_SLOT_AVAILABLE', out.detail);
    const id = out.kind === 'created' ? out.entry.taskId : out.taskId;
    return reply.code(200).send({ errorId: 0, taskId: Number(id) });
  });

  route('/getTaskResult', async (b, request, reply) => {
    const id = taskIdOf(b);
    if (!id) return sendJsonError(reply, 'ERROR_NO_SUCH_CAPCHA_ID', 'taskId must be a positive integer');
    const view = await d.reader.read(id, request.tenant!.id);
    if (!view) return sendJsonError(reply, 'ERROR_NO_SUCH_CAPCHA_ID');
    if (!isTerminal(view.status)) return reply.code(200).send({ errorId: 0, status: 'processing' });
    if (view.status !== 'solved') {
      return sendJsonError(reply, view.errorCode && V1_RESULT_CODES.has(view.errorCode) ? view.errorCode : 'ERROR_CAPTCHA_UNSOLVABLE');
    }
    return reply.code(200).send({
      errorId: 0, status: 'ready', solution: jsonSolution(view.type, view.solution), cost: '0', ip: request.ip,
      createTime: sec(view.createdAt), endTime: sec(view.completedAt ?? view.updatedAt), solveCount: 1,
    });
  });

  route('/getBalance', async (_b, request, reply) => reply.code(200).send({ errorId: 0, balance: await balanceOf(d, request.tenant!) }));

  for (const [method, verdict] of Object.entries(REPORTS)) {
    route(`/${method}`, async (b, request, reply) => {
      const id = taskIdOf(b);
      if (!id) return sendJsonError(reply, 'ERROR_NO_SUCH_CAPCHA_ID', 'taskId must be a positive integer');
      const r = await d.transitions.report({ taskId: id, tenant: request.tenant!.id, verdict, windowMs: d.reportWindowMs, now: d.clock() });
      if (r.kind === 'recorded') return reply.code(200).send({ errorId: 0, status: 'success' });
      if (r.kind === 'refused' && r.reason === 'duplicate') return sendJsonError(reply, 'ERROR_DUPLICATE_REPORT');
      return sendJsonError(reply, 'ERROR_NO_SUCH_CAPCHA_ID', r.kind === 'refused' ? r.reason : undefined);
    });
  }
}
